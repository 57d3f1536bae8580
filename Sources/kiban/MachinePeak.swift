import Dispatch
import KibanKernels
import KibanTensor

/// The machine's FP32 FMA peak, measured by running the widest supported FMA loop on every thread
/// at once; the best of three trials, since a shared machine only ever lowers the figure.
enum MachinePeak {
    static func measure(threads: Int) -> Double {
        let path = [KB_PATH_AVX512, KB_PATH_AVX2].first { kb_path_supported($0) != 0 } ?? KB_PATH_SCALAR
        return (0..<3).map { _ in
            let results = PeakResults(count: threads)
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                results.store(kb_fma_peak_gflops(path, 0.2), at: thread)
            }
            return results.total
        }.max() ?? 0
    }

    /// Per-thread results written from concurrent iterations (each slot by one thread only).
    private final class PeakResults: @unchecked Sendable {
        private let values: UnsafeMutableBufferPointer<Double>
        init(count: Int) { values = .allocate(capacity: count); values.initialize(repeating: 0) }
        deinit { values.deallocate() }
        func store(_ value: Double, at index: Int) { values[index] = value }
        var total: Double { values.reduce(0, +) }
    }
}
