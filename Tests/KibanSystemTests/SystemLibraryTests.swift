import KibanDistributed
import KibanFormats
import Testing

/// The system libraries are linked and their macro shims work.
@Suite("System libraries")
struct SystemLibraryTests {
    @Test func hdf5IsLinked() {
        #expect(HDF5Library.version().hasPrefix("1."))
        #expect(HDF5Library.nativeFloat > 0)
    }

    @Test func mpiIsLinked() {
        #expect(MPILibrary.version().contains("MPI"))
    }

    @Test func singleProcessCommunicatorLeavesBuffersAlone() {
        let communicator = SingleProcessCommunicator()
        var values: [Float] = [1, 2, 3]
        values.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
        #expect(values == [1, 2, 3] && communicator.rank == 0 && communicator.size == 1)
    }
}
