import Foundation
import Synchronization

/// A reference-counted float32 buffer shared by a tensor and all of its views.
///
/// Every live storage is counted in ``Storage/liveBytes`` so tests can assert that autograd
/// releases intermediates. Freed buffers of at least ``BufferPool/minimumPooledBytes`` go back to a
/// pool keyed by size class instead of to the system, so a training loop that allocates the same
/// shapes each step, or inference over batches of similar shapes, does not page-fault fresh memory
/// each time.
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

    /// The most bytes storages have held at once in this process.
    public static var peakLiveBytes: Int { BufferPool.shared.peakLive }

    /// Allocates `count` uninitialised floats.
    public init(uninitializedCount count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(byteCount: count * MemoryLayout<Float>.stride)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        let live = Self.liveByteCounter.add(count * MemoryLayout<Float>.stride, ordering: .relaxed).newValue
        BufferPool.shared.noteLive(bytes: live)
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

/// A cache of freed aligned buffers keyed by size class, bounded in total bytes by KIBAN_POOL_MB and
/// by the most bytes the program has had live at once. The pool thus holds what a step frees for
/// the next step to take, and a shape that misses it evicts pooled buffers rather than growing
/// the pool: tensor memory stays within twice the most the program has held.
final class BufferPool: Sendable {
    static let shared = BufferPool()
    /// Buffers smaller than this go straight back to `free`: malloc serves them quickly.
    static let minimumPooledBytes = 16 * 1024
    /// Upper bound on bytes kept in the pool (KIBAN_POOL_MB overrides, 0 disables pooling).
    let capacityBytes: Int

    private struct State {
        /// Addresses of cached buffers by size class (addresses, so the state is Sendable).
        var free: [Int: [UInt]] = [:]
        var pooledBytes = 0
    }
    private let state = Mutex(State())
    /// The most bytes of storages live at once so far.
    private let peakLiveBytes = Atomic<Int>(0)

    init() {
        let megabytes = ProcessInfo.processInfo.environment["KIBAN_POOL_MB"].flatMap(Int.init) ?? 1024
        capacityBytes = max(0, megabytes) << 20
    }

    /// The bytes a pooled buffer of `byteCount` really has, so that buffers of similar sizes serve
    /// each other: mapped sizes (≥ ``mappedBytes``) round up to a power of two, whose pages past what
    /// a tensor writes are never touched and so never resident; smaller ones to a quarter-octave class
    /// (2^k · 1, 1.25, 1.5 or 1.75), at most 25 % more.
    static func sizeClass(_ byteCount: Int) -> Int {
        guard byteCount > minimumPooledBytes else { return byteCount }
        let octave = Int.bitWidth - 1 - (byteCount - 1).leadingZeroBitCount   // 2^octave < byteCount ≤ 2^(octave+1)
        if byteCount > mappedBytes { return 1 << (octave + 1) }
        let quarter = 1 << (octave - 2)
        return (byteCount + quarter - 1) / quarter * quarter
    }

    /// The most bytes of storages live at once so far.
    var peakLive: Int { peakLiveBytes.load(ordering: .relaxed) }

    /// The most bytes the pool may hold now: live and pooled bytes together stay within twice the peak
    /// of live bytes (a step's freed buffers wait for the next step), and at most KIBAN_POOL_MB.
    private var poolBound: Int { min(capacityBytes, 2 * peakLive - Storage.liveBytes) }

    /// Records that `bytes` are live now (raising the pool's bound if that is a new peak).
    func noteLive(bytes: Int) {
        var peak = peakLiveBytes.load(ordering: .relaxed)
        while bytes > peak {
            let (exchanged, original) = peakLiveBytes.compareExchange(expected: peak, desired: bytes, ordering: .relaxed)
            if exchanged { return }
            peak = original
        }
    }

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = Self.sizeClass(byteCount)
        if size >= Self.minimumPooledBytes {
            let budget = poolBound - size
            let (cached, evicted) = state.withLock { state -> (UInt?, [(UInt, Int)]) in
                if let address = state.free[size]?.popLast() {
                    state.pooledBytes -= size
                    return (address, [])
                }
                return (nil, Self.evict(&state, downTo: budget))
            }
            for (address, evictedSize) in evicted { Self.release(UnsafeMutableRawPointer(bitPattern: address)!, size: evictedSize) }
            if let cached, let pointer = UnsafeMutableRawPointer(bitPattern: cached) { return pointer }
        }
        return Self.allocate(size)
    }

    /// Buffers of at least this many bytes are mapped from the kernel and unmapped when freed, so a
    /// freed buffer leaves the process at once: malloc keeps large freed blocks below its (growing)
    /// mmap threshold in its heap, where they stay resident.
    static let mappedBytes = 1 << 18

    /// A fresh 64-byte aligned buffer of `size` bytes.
    private static func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        if size >= mappedBytes {
            let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let mapped, mapped != MAP_FAILED else { fatalError("kiban: out of memory mapping \(size) bytes") }
            return mapped
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(size, 64)) == 0, let raw else {
            fatalError("kiban: out of memory allocating \(size) bytes")
        }
        return raw
    }

    /// Returns a buffer from ``allocate(_:)`` of `size` bytes to the system.
    private static func release(_ pointer: UnsafeMutableRawPointer, size: Int) {
        if size >= mappedBytes { munmap(pointer, size) } else { free(pointer) }
    }

    /// Takes pooled buffers, largest classes first, until at most `budget` bytes stay pooled;
    /// returns their addresses for the caller to free outside the lock.
    private static func evict(_ state: inout State, downTo budget: Int) -> [(UInt, Int)] {
        var evicted: [(UInt, Int)] = []
        for size in state.free.keys.sorted(by: >) where state.pooledBytes > budget {
            while state.pooledBytes > budget, let address = state.free[size]?.popLast() {
                state.pooledBytes -= size
                evicted.append((address, size))
            }
        }
        return evicted
    }

    func give(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = Self.sizeClass(byteCount)
        if size >= Self.minimumPooledBytes {
            let address = UInt(bitPattern: pointer)
            let bound = poolBound
            let kept = state.withLock { state -> Bool in
                guard state.pooledBytes + size <= bound else { return false }
                state.free[size, default: []].append(address)
                state.pooledBytes += size
                return true
            }
            if kept { return }
        }
        Self.release(pointer, size: size)
    }
}
