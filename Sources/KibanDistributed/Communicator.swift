import CMPI

/// Collective communication between the ranks of a run. Every collective goes through this
/// protocol, so the same training code runs on one process or under `mpirun -np N`.
public protocol Communicator: AnyObject {
    /// This process's index in `0..<size`.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Sums `buffer` element-wise across ranks, in place.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
}

/// The default communicator of a single process: every collective returns at once.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
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
