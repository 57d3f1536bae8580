import Foundation
import KibanDistributed
import Testing

/// The collectives at one rank, and under `mpirun -np 2` through `kiban collectives` (OpenMPI is
/// among the packages CI installs, so the two-rank test runs there rather than being skipped).
@Suite("Collectives", .serialized)
struct CollectiveTests {
    @Test func singleProcessCollectivesHold() {
        #expect(CollectiveCheck.run(SingleProcessCommunicator(), length: 1000) == [])
    }

    /// A communicator that claims two ranks but combines nothing fails the check, collective by collective.
    @Test func aCommunicatorThatDoesNotCommunicateIsCaught() {
        final class Silent: Communicator {
            var rank: Int { 0 }
            var size: Int { 2 }
            func barrier() {}
            func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {}
            func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {}
            func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {}
            func reduceScatterSum(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {}
            func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {}
            func allGather(bytes: [UInt8]) -> [[UInt8]] { [bytes, bytes] }
            func split(color: Int, key: Int) -> Communicator { self }
            func abort(_ code: Int32) -> Never { fatalError("abort \(code)") }
        }
        let failures = CollectiveCheck.run(Silent(), length: 100)
        for name in ["all-reduce sum", "all-reduce max", "all-reduce of doubles", "broadcast", "reduce-scatter", "all-gather", "all-gather of bytes", "split"] {
            #expect(failures.contains { $0.hasPrefix(name) }, "\(name) not caught: \(failures)")
        }
    }

    @Test func withoutALauncherAProcessIsOneRank() {
        #expect(!Launch.isUnderMPI)
        #expect(Launch.communicator() is SingleProcessCommunicator)
    }

    @Test func twoRanksUnderMPIRun() throws {
        let (status, text) = try MPIRun.run(ranks: 2, ["collectives"])
        #expect(status == 0, "mpirun -np 2 kiban collectives:\n\(text)")
        for rank in 0..<2 {
            #expect(text.contains("rank \(rank) of 2: all collectives hold"), "rank \(rank) missing from:\n\(text)")
        }
    }
}
