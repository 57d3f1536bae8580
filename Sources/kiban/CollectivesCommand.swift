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

    func run() throws {
        let communicator = Launch.communicator()
        let failures = CollectiveCheck.run(communicator, length: length)
        let who = "rank \(communicator.rank) of \(communicator.size)"
        guard failures.isEmpty else {
            for failure in failures { FileHandle.standardError.write(Data("kiban collectives: \(who): \(failure)\n".utf8)) }
            throw ExitCode.failure
        }
        print("\(who): all collectives hold (\(length) values per all-reduce, \(type(of: communicator)))")
    }
}
