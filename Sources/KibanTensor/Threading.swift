import CBLAS
import Dispatch
import Foundation
import Synchronization

/// The thread count shared by OpenBLAS GEMM and Kiban's own row-parallel kernels.
///
/// Defaults to `KIBAN_NUM_THREADS` when set, else the number of active cores.
public enum Threading {
    private static let configuredCount = Atomic<Int>(0)

    /// Threads used by GEMM and by Kiban's kernels.
    public static var threadCount: Int {
        get {
            let current = configuredCount.load(ordering: .relaxed)
            if current > 0 { return current }
            let fromEnvironment = ProcessInfo.processInfo.environment["KIBAN_NUM_THREADS"].flatMap(Int.init)
            let initial = max(1, fromEnvironment ?? ProcessInfo.processInfo.activeProcessorCount)
            setThreadCount(initial)
            return initial
        }
        set { setThreadCount(newValue) }
    }

    private static func setThreadCount(_ count: Int) {
        let count = max(1, count)
        configuredCount.store(count, ordering: .relaxed)
        openblas_set_num_threads(Int32(count))
    }

    /// Applies the thread count to OpenBLAS before its first GEMM (cheap after the first call).
    static func configureBLAS() {
        _ = threadCount
    }

    @TaskLocal private static var scopedCount: Int?

    /// Runs `body` with Kiban's own kernels, its GEMM included, split over `count` threads (OpenBLAS is unchanged),
    /// without touching the process-wide setting other tasks see.
    public static func withThreadCount<Result>(_ count: Int, _ body: () throws -> Result) rethrows -> Result {
        try $scopedCount.withValue(max(1, count)) { try body() }
    }

    /// Splits `0..<count` into at most ``threadCount`` contiguous ranges of at least
    /// `minimumPerTask` items and runs `body` on each, in parallel when there is more than one.
    /// A `parallelFor` inside `body` runs serially: the threads are busy already. `body` sees the
    /// caller's ``GEMMPrecision``.
    public static func parallelFor(_ count: Int, minimumPerTask: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let tasks = min(scopedCount ?? threadCount, max(1, count / max(1, minimumPerTask)))
        if tasks == 1 {
            body(0..<count)
            return
        }
        let precision = GEMMPrecision.current
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let start = count * task / tasks
                let end = count * (task + 1) / tasks
                $scopedCount.withValue(1) { GEMMPrecision.with(precision) { shared.value(start..<end) } }
            }
        }
    }
}

/// Carries a value into `concurrentPerform`'s `@Sendable` closure. The callers' bodies write
/// disjoint ranges of their outputs, which is what makes sharing them safe.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
