import CMPI
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a collective combines the ranks' values.
public enum ReduceOperation: Sendable {
    case sum, max
}

/// Collective communication between the ranks of a run. Every collective goes through this
/// protocol, so the same training code runs on one process or under `mpirun -np N`.
///
/// Buffers are flat float (or double) arrays; every rank passes buffers of the same length.
public protocol Communicator: AnyObject {
    /// This process's index in `0..<size`.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Returns when every rank has called it.
    func barrier()
    /// Copies `root`'s buffer into every rank's buffer.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int)
    /// Combines `buffer` element-wise across ranks, in place; every rank gets the result.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation)
    /// ``allReduce(_:_:)`` for doubles (losses and metrics).
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation)
    /// input: (size · count), output: (count): rank r gets block r of the element-wise sum.
    func reduceScatterSum(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
    /// input: (count), output: (size · count): block r is rank r's input.
    func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
    /// Every rank's bytes, in rank order (messages of any length: results to put together on one rank).
    func allGather(bytes: [UInt8]) -> [[UInt8]]
    /// The ranks that pass the same `color` form a new communicator, ordered by `key` (then by rank):
    /// the rows and columns of a data × tensor-parallel grid.
    func split(color: Int, key: Int) -> Communicator
    /// Ends every rank of the run with exit status `code` (after this rank's message is printed):
    /// a failing rank calls it so the others do not wait forever in a collective.
    func abort(_ code: Int32) -> Never
}

/// The communicator of a single process: every collective returns at once, or copies where the
/// output is another buffer.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func barrier() {}
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {}

    public func reduceScatterSum(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(input.count == output.count, "reduce-scatter of \(input.count) values into \(output.count) at 1 rank")
        _ = output.initialize(from: input)
    }

    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(input.count == output.count, "all-gather of \(input.count) values into \(output.count) at 1 rank")
        _ = output.initialize(from: input)
    }

    public func allGather(bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func split(color: Int, key: Int) -> Communicator { SingleProcessCommunicator() }
    public func abort(_ code: Int32) -> Never { exit(code) }
}

/// The communicator a process was started with: all of `mpirun`'s ranks when an MPI launcher
/// started it, else a single process that never initialises MPI (and pays nothing for it).
public enum Launch {
    /// Environment variables that MPI launchers (OpenMPI, MPICH/PMI, PMIx) set in each rank.
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]

    /// Whether this process runs under an MPI launcher.
    public static var isUnderMPI: Bool {
        launcherVariables.contains { getenv($0) != nil }
    }

    /// Environment variables that give the number of ranks on this node (OpenMPI, MPICH, PMIx).
    static let localSizeVariables = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMIX_LOCAL_SIZE"]

    /// Ranks the launcher started on this node (1 without a launcher).
    public static var ranksOnThisNode: Int {
        localSizeVariables.lazy.compactMap { getenv($0).flatMap { Int(String(cString: $0)) } }.first ?? 1
    }

    /// Stops a command that runs as one process when it was started as several ranks (each would
    /// do the whole job and write the same files): an error naming the command.
    public static func requireOneProcess(_ command: String) throws {
        let names: [String] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        let ranks = names.compactMap { name in getenv(name).flatMap { Int(String(cString: $0)) } }.first ?? 1
        guard ranks <= 1 else { throw OneProcessOnly(description: "\(command) runs as one process; start it without mpirun (it was started as \(ranks) ranks)") }
    }

    /// Runs `body` with this process's communicator. Under MPI a rank whose `body` throws prints
    /// `<command>: rank R of N failed: <error>` and aborts the whole run, so no other rank waits
    /// forever in a collective; a single process just throws.
    public static func run(_ command: String, _ body: (Communicator) throws -> Void) throws {
        let communicator = communicator()
        guard communicator.size > 1 else { return try body(communicator) }
        do {
            try body(communicator)
        } catch {
            FileHandle.standardError.write(Data("\(command): rank \(communicator.rank) of \(communicator.size) failed: \(error)\n".utf8))
            communicator.abort(1)
        }
    }

    /// `MPICommunicator.world` under an MPI launcher, else a ``SingleProcessCommunicator``.
    public static func communicator() -> Communicator {
        isUnderMPI ? MPICommunicator.world : SingleProcessCommunicator()
    }
}

/// A command that runs as one process was started as several ranks.
public struct OneProcessOnly: Error, CustomStringConvertible {
    public let description: String
}

/// The MPI library Kiban links.
public enum MPILibrary {
    /// The library's own version line (for OpenMPI: "Open MPI v4.1.x, ...").
    public static func version() -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING))
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: "\n").first.map(String.init) ?? ""
    }
}
