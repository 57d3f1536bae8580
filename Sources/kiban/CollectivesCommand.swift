import ArgumentParser
import Foundation
import KibanDistributed

/// `kiban collectives`: checks the MPI collectives at every rank, e.g. `mpirun -np 4 kiban collectives`.
struct CollectivesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collectives",
        abstract: "Check all-reduce, broadcast, reduce-scatter, all-gather and split across the ranks of mpirun.",
        discussion: """
            Each rank runs every collective on values whose results are known exactly and prints one line; a \
            mismatch names the collective and the first wrong index, and the command exits with status 1. Started \
            without an MPI launcher it checks the single-process communicator.
            """)

    @Option(help: "Values per all-reduce (the default spans three chunks of a million).")
    var length = 2_500_001

    @Flag(help: "Then time float all-reduces from 1 thousand to 64 million values, in chunks and in one call (GB/s: bytes per rank / time).")
    var timing = false

    func run() throws {
        let communicator = Launch.communicator()
        let failures = CollectiveCheck.run(communicator, length: length)
        let who = "rank \(communicator.rank) of \(communicator.size)"
        guard failures.isEmpty else {
            for failure in failures { FileHandle.standardError.write(Data("kiban collectives: \(who): \(failure)\n".utf8)) }
            throw ExitCode.failure
        }
        print("\(who): all collectives hold (\(length) values per all-reduce, \(type(of: communicator)))")
        if timing { time(communicator) }
    }

    /// Medians of 5 all-reduces per size, chunked and in one call; rank 0 prints a table.
    private func time(_ communicator: Communicator) {
        if communicator.rank == 0 { print("values      chunked ms  GB/s   one call ms  GB/s") }
        for exponent in stride(from: 10, through: 26, by: 2) {
            let count = 1 << exponent
            var buffer = [Float](repeating: 1, count: count)
            let medians = [MPICommunicator.chunk, 0].map { chunk -> Double in
                let saved = MPICommunicator.chunk
                MPICommunicator.chunk = chunk
                defer { MPICommunicator.chunk = saved }
                let times = (0..<6).map { _ -> Double in
                    communicator.barrier()
                    let start = DispatchTime.now().uptimeNanoseconds
                    buffer.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
                    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                }.dropFirst().sorted()
                return times[times.count / 2]
            }
            let gigabytes = Double(count * 4) / 1e9
            if communicator.rank == 0 {
                print(String(format: "%-10d  %10.3f  %5.2f  %11.3f  %5.2f", count, medians[0], gigabytes / medians[0] * 1e3, medians[1], gigabytes / medians[1] * 1e3))
            }
        }
    }
}
