import Foundation
import Synchronization

/// A reference-counted float32 buffer shared by a tensor and all of its views.
///
/// Every live storage is counted in ``Storage/liveBytes`` so tests can assert that autograd
/// releases intermediates. Freed buffers of at least ``BufferPool/minimumPooledBytes`` go back to a
/// size-keyed pool instead of to the system, so a training loop that allocates the same shapes
/// each step does not page-fault fresh memory each time.
public final class Storage: @unchecked Sendable {
    /// First element; 64-byte aligned.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of float32 elements.
    public let count: Int

    private static let liveByteCounter = Atomic<Int>(0)
    /// The tracker that was current when this storage was allocated.
    private let tracker: MemoryTracker?

    /// Bytes held by all storages alive right now (pooled free buffers are not counted).
    public static var liveBytes: Int { liveByteCounter.load(ordering: .relaxed) }

    /// Allocates `count` uninitialised floats.
    public init(uninitializedCount count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(byteCount: count * MemoryLayout<Float>.stride)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        Self.liveByteCounter.add(count * MemoryLayout<Float>.stride, ordering: .relaxed)
        tracker = MemoryTracker.current
        tracker?.liveByteCounter.add(count * MemoryLayout<Float>.stride, ordering: .relaxed)
    }

    /// Allocates `count` floats set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        Self.liveByteCounter.subtract(count * MemoryLayout<Float>.stride, ordering: .relaxed)
        tracker?.liveByteCounter.subtract(count * MemoryLayout<Float>.stride, ordering: .relaxed)
        BufferPool.shared.give(UnsafeMutableRawPointer(pointer), byteCount: count * MemoryLayout<Float>.stride)
    }
}

/// Counts the bytes of storages allocated while it is current and still alive, so one task can
/// measure its own memory while others allocate concurrently (``Storage/liveBytes`` is global).
public final class MemoryTracker: Sendable {
    @TaskLocal static var current: MemoryTracker?
    fileprivate let liveByteCounter = Atomic<Int>(0)

    public init() {}

    /// Bytes of storages allocated under ``track(_:)`` that are still alive.
    public var liveBytes: Int { liveByteCounter.load(ordering: .relaxed) }

    /// Runs `body` with this tracker current: storages it allocates are counted here.
    public func track<Result>(_ body: () throws -> Result) rethrows -> Result {
        try Self.$current.withValue(self) { try body() }
    }
}

/// A cache of freed aligned buffers keyed by exact byte size, bounded in total bytes.
final class BufferPool: Sendable {
    static let shared = BufferPool()
    /// Buffers smaller than this go straight back to `free`: malloc serves them quickly.
    static let minimumPooledBytes = 16 * 1024
    /// Upper bound on bytes kept in the pool (KIBAN_POOL_MB overrides, 0 disables pooling).
    let capacityBytes: Int

    private struct State {
        /// Addresses of cached buffers by byte size (addresses, so the state is Sendable).
        var free: [Int: [UInt]] = [:]
        var pooledBytes = 0
    }
    private let state = Mutex(State())

    init() {
        let megabytes = ProcessInfo.processInfo.environment["KIBAN_POOL_MB"].flatMap(Int.init) ?? 1024
        capacityBytes = max(0, megabytes) << 20
    }

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount >= Self.minimumPooledBytes {
            let cached = state.withLock { state -> UInt? in
                guard let address = state.free[byteCount]?.popLast() else { return nil }
                state.pooledBytes -= byteCount
                return address
            }
            if let cached, let pointer = UnsafeMutableRawPointer(bitPattern: cached) { return pointer }
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(byteCount, 64)) == 0, let raw else {
            fatalError("kiban: out of memory allocating \(byteCount) bytes")
        }
        return raw
    }

    func give(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        if byteCount >= Self.minimumPooledBytes {
            let address = UInt(bitPattern: pointer)
            let kept = state.withLock { state -> Bool in
                guard state.pooledBytes + byteCount <= capacityBytes else { return false }
                state.free[byteCount, default: []].append(address)
                state.pooledBytes += byteCount
                return true
            }
            if kept { return }
        }
        free(pointer)
    }
}
