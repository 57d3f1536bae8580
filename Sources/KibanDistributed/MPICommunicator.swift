import CMPI

#if canImport(Glibc)
    import Glibc
#endif

/// A communicator over MPI (OpenMPI here, any MPI on a cluster): the world of `mpirun`'s ranks or
/// a sub-communicator of it. MPI is initialised on first use of ``world`` and finalised at exit.
///
/// Large all-reduces run in chunks of about a million values, which measured 3–5× faster than one
/// call on a shared-memory machine. Sendable because its state is fixed at creation; MPI itself is
/// initialised for calls from one thread at a time (`MPI_THREAD_FUNNELED`).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// Values per all-reduce call (0: the whole buffer in one call, for comparison).
    nonisolated(unsafe) public static var chunk = 1 << 20

    let handle: MPI_Comm
    public let rank: Int
    public let size: Int
    /// Whether `handle` was made by `split` (and is freed with this object).
    private let owned: Bool

    /// All ranks of the run (`MPI_COMM_WORLD`), initialising MPI the first time.
    public static let world: MPICommunicator = {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
            atexit {
                var finalized: Int32 = 0
                MPI_Finalized(&finalized)
                if finalized == 0 { MPI_Finalize() }
            }
        }
        return MPICommunicator(kiban_mpi_comm_world(), owned: false)
    }()

    private init(_ handle: MPI_Comm, owned: Bool) {
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(handle, &rank)
        MPI_Comm_size(handle, &size)
        (self.handle, self.rank, self.size, self.owned) = (handle, Int(rank), Int(size), owned)
    }

    deinit {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if owned && finalized == 0 {
            var freed: MPI_Comm? = handle
            MPI_Comm_free(&freed)
        }
    }

    public func barrier() {
        MPI_Barrier(handle)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        precondition(root >= 0 && root < size, "broadcast from rank \(root) of \(size)")
        forEachChunk(buffer.count) { start, count in
            MPI_Bcast(buffer.baseAddress! + start, Int32(count), kiban_mpi_float(), Int32(root), handle)
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {
        forEachChunk(buffer.count) { start, count in
            MPI_Allreduce(kiban_mpi_in_place(), buffer.baseAddress! + start, Int32(count), kiban_mpi_float(), Self.op(operation), handle)
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {
        forEachChunk(buffer.count) { start, count in
            MPI_Allreduce(kiban_mpi_in_place(), buffer.baseAddress! + start, Int32(count), kiban_mpi_double(), Self.op(operation), handle)
        }
    }

    public func reduceScatterSum(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(input.count == size * output.count, "reduce-scatter of \(input.count) values into \(output.count) at \(size) ranks")
        guard !output.isEmpty else { return }
        MPI_Reduce_scatter_block(input.baseAddress!, output.baseAddress!, Int32(output.count), kiban_mpi_float(), kiban_mpi_sum(), handle)
    }

    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count == size * input.count, "all-gather of \(input.count) values into \(output.count) at \(size) ranks")
        guard !input.isEmpty else { return }
        MPI_Allgather(input.baseAddress!, Int32(input.count), kiban_mpi_float(), output.baseAddress!, Int32(input.count), kiban_mpi_float(), handle)
    }

    public func allGather(bytes: [UInt8]) -> [[UInt8]] {
        var lengths = [Int64](repeating: 0, count: size)
        var length = Int64(bytes.count)
        MPI_Allgather(&length, 1, kiban_mpi_int64(), &lengths, 1, kiban_mpi_int64(), handle)
        let counts = lengths.map { Int32($0) }
        let displacements = counts.indices.map { Int32(counts[..<$0].reduce(0, +)) }
        var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
        var sent = bytes
        MPI_Allgatherv(&sent, Int32(bytes.count), kiban_mpi_byte(), &all, counts, displacements, kiban_mpi_byte(), handle)
        return counts.indices.map { Array(all[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
    }

    public func split(color: Int, key: Int) -> Communicator {
        var part: MPI_Comm?
        MPI_Comm_split(handle, Int32(color), Int32(key), &part)
        return MPICommunicator(part!, owned: true)
    }

    public func abort(_ code: Int32) -> Never {
        fflush(nil)
        MPI_Abort(handle, code)
        exit(code)
    }

    /// Calls `body(start, count)` for consecutive chunks of at most ``chunk`` values.
    private func forEachChunk(_ total: Int, _ body: (Int, Int) -> Void) {
        var start = 0
        while start < total {
            let count = Self.chunk > 0 ? Swift.min(Self.chunk, total - start) : total
            body(start, count)
            start += count
        }
    }

    private static func op(_ operation: ReduceOperation) -> MPI_Op {
        switch operation {
        case .sum: kiban_mpi_sum()
        case .max: kiban_mpi_max()
        }
    }
}
