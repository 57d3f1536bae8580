import Foundation
import KibanKernels
import Testing

extension Kernel {
    /// The agreement a vector path must reach with the scalar reference (NaN and infinities in the same places):
    /// |a − r| ≤ 1e-6 + 1e-5·|r| for float kernels, whose vector exp, erf and lane-wise sums round differently
    /// (worst measured: 46%, layer norm forward at n = 1000); for sums, which every path accumulates in double in
    /// its own order, Double rounding only (worst measured: 5e-12, 2% of the bound).
    var pathTolerance: Tolerance {
        switch self {
        case .sum, .sumSquares: .doubleAccumulation
        default: Tolerance(absolute: 1e-6, relative: 1e-5)
        }
    }
}

/// Makes `path` the one every dispatcher runs, as a user would (KIBAN_KERNELS, then a reload), and expects the
/// dispatchers to report it active.
func force(_ path: KernelPath) {
    setenv("KIBAN_KERNELS", path.rawValue, 1)
    kb_reload_path_from_env()
    #expect(kb_active_path().rawValue == path.kb.rawValue, "KIBAN_KERNELS=\(path.rawValue) was not applied")
}

/// Unsets KIBAN_KERNELS and reloads, so the best supported path is active again.
func restoreDefaultPath() {
    unsetenv("KIBAN_KERNELS")
    kb_reload_path_from_env()
}

/// Forces `path`, then runs `kernel` through the dispatcher at every length and expects it to agree with the
/// scalar reference on the same inputs.
func expectDispatcherMatchesScalarReference(_ kernel: Kernel, on path: KernelPath) {
    defer { restoreDefaultPath() }
    force(path)
    for n in kernelLengths {
        let inputs = KernelInputs(kernel, n: n)
        let problem = firstMismatch(
            run(kernel, on: inputs, .dispatcher), run(kernel, on: inputs, .scalarReference), tolerance: kernel.pathTolerance)
        #expect(problem == nil, "\(kernel.rawValue) on \(path.rawValue), n = \(n): \(problem ?? "")")
    }
}

/// Softmax of [0, −∞, −1e30, −100] on `path`: exactly [1, 0, 0, tiny]. libm's expf(−100) is the subnormal
/// 3.8e-44, so the scalar path may return it; the vector exp returns exactly 0 below −87.7.
func expectExactZerosFromExp(on path: KernelPath) {
    defer { restoreDefaultPath() }
    force(path)
    let x: [Float] = [0, -.infinity, -1e30, -100]
    var y = [Float](repeating: .nan, count: 4)
    kb_softmax_rows(x, &y, 1, 4)
    #expect(y[0] == 1 && y[1] == 0 && y[2] == 0, "\(path.rawValue): \(y)")
    if path == .scalar {
        #expect(y[3] >= 0 && y[3] < .leastNormalMagnitude, "\(path.rawValue): \(y)")
    } else {
        #expect(y[3] == 0, "\(path.rawValue): \(y)")
    }
}

/// Softmax and log-softmax on `path` of three rows (3, 3): fully masked, one masked entry, one +∞ entry.
/// Softmax gives zeros, an exact 0 for the masked entry and NaN; log-softmax gives −∞, −∞ and NaN.
func expectMaskedRowSemantics(on path: KernelPath) {
    defer { restoreDefaultPath() }
    force(path)
    let x: [Float] = [-.infinity, -.infinity, -.infinity, 1, -.infinity, 2, 1, .infinity, 0]
    var y = [Float](repeating: 7, count: 9)
    kb_softmax_rows(x, &y, 3, 3)
    #expect(Array(y[0..<3]) == [0, 0, 0], "\(path.rawValue): fully masked softmax row \(y)")
    #expect(y[4] == 0 && abs(y[3] + y[5] - 1) < 1e-6, "\(path.rawValue): masked entry \(y)")
    let plusInfinityRowIsNaN = y[6...].allSatisfy { $0.isNaN }
    #expect(plusInfinityRowIsNaN, "\(path.rawValue): +inf row \(y)")
    kb_log_softmax_rows(x, &y, 3, 3)
    let fullyMaskedIsMinusInfinity = y[0..<3].allSatisfy { $0 == -.infinity }
    #expect(fullyMaskedIsMinusInfinity, "\(path.rawValue): fully masked log-softmax \(y)")
    #expect(y[4] == -.infinity && y[5] < 0, "\(path.rawValue): masked log-softmax entry \(y)")
    let plusInfinityLogRowIsNaN = y[6...].allSatisfy { $0.isNaN }
    #expect(plusInfinityLogRowIsNaN, "\(path.rawValue): +inf log-softmax row \(y)")
}

/// Both GELU forms on `path` at [+∞, −∞, 1e4, −1e4]: forward [+∞, 0, 1e4, 0], derivative [1, 0, 1, 0] exactly.
func expectGELUSaturatesAtInfinity(on path: KernelPath) {
    defer { restoreDefaultPath() }
    force(path)
    let x: [Float] = [.infinity, -.infinity, 1e4, -1e4]
    let ones = [Float](repeating: 1, count: 4)
    var y = [Float](repeating: .nan, count: 4)
    kb_gelu_tanh_forward(x, &y, 4)
    #expect(y == [.infinity, 0, 1e4, 0], "\(path.rawValue): tanh forward \(y)")
    kb_gelu_erf_forward(x, &y, 4)
    #expect(y == [.infinity, 0, 1e4, 0], "\(path.rawValue): erf forward \(y)")
    kb_gelu_tanh_backward(x, ones, &y, 4)
    #expect(y == [1, 0, 1, 0], "\(path.rawValue): tanh backward \(y)")
    kb_gelu_erf_backward(x, ones, &y, 4)
    #expect(y == [1, 0, 1, 0], "\(path.rawValue): erf backward \(y)")
}

/// Run-time path selection, and each path's behaviour through the dispatcher. Serialized: every test sets the
/// process-wide active path. A path this CPU cannot run is reported as a skipped suite, never as a pass; the scalar
/// reference itself is checked against Double formulas in ScalarReferenceTests.
@Suite(.serialized)
struct KernelPathTests {
    @Suite("Scalar path")
    struct Scalar {
        @Test func expGivesZerosOrSubnormals() { expectExactZerosFromExp(on: .scalar) }
        @Test func maskedRowSemantics() { expectMaskedRowSemantics(on: .scalar) }
        @Test func geluSaturatesAtInfinity() { expectGELUSaturatesAtInfinity(on: .scalar) }
    }

    @Suite("AVX2 path", .enabled(if: KernelPath.avx2.isSupported, "this CPU (or OS) has no AVX2+FMA"))
    struct AVX2 {
        @Test(arguments: Kernel.allCases)
        func matchesScalarReference(kernel: Kernel) { expectDispatcherMatchesScalarReference(kernel, on: .avx2) }

        @Test func expGivesExactZeros() { expectExactZerosFromExp(on: .avx2) }
        @Test func maskedRowSemantics() { expectMaskedRowSemantics(on: .avx2) }
        @Test func geluSaturatesAtInfinity() { expectGELUSaturatesAtInfinity(on: .avx2) }
    }

    @Suite("AVX-512 path", .enabled(if: KernelPath.avx512.isSupported, "this CPU (or OS) has no AVX-512"))
    struct AVX512 {
        @Test(arguments: Kernel.allCases)
        func matchesScalarReference(kernel: Kernel) { expectDispatcherMatchesScalarReference(kernel, on: .avx512) }

        @Test func expGivesExactZeros() { expectExactZerosFromExp(on: .avx512) }
        @Test func maskedRowSemantics() { expectMaskedRowSemantics(on: .avx512) }
        @Test func geluSaturatesAtInfinity() { expectGELUSaturatesAtInfinity(on: .avx512) }
    }

    @Test func unknownOrUnsupportedRequestFallsBackToBestPath() throws {
        defer { restoreDefaultPath() }
        restoreDefaultPath()
        let supported = KernelPath.allCases.filter { $0.isSupported }
        let best = try #require(supported.last)
        #expect(kb_active_path().rawValue == best.kb.rawValue)
        let requests = ["bogus", "AVX2", "neon"] + KernelPath.allCases.filter { !$0.isSupported }.map(\.rawValue)
        for request in requests {
            setenv("KIBAN_KERNELS", request, 1)
            kb_reload_path_from_env()
            #expect(kb_active_path().rawValue == best.kb.rawValue, "KIBAN_KERNELS=\(request)")
        }
        for path in KernelPath.allCases {
            #expect(String(cString: kb_path_name(path.kb)) == path.rawValue)
            #expect(kb_set_path(path.kb) == (path.isSupported ? 1 : 0), "kb_set_path(\(path.rawValue))")
        }
    }

    @Test func peakProbeReportsOnlySupportedPaths() {
        for path in KernelPath.allCases {
            let gflops = kb_fma_peak_gflops(path.kb, 0.02)
            #expect(path.isSupported ? gflops > 0 : gflops == 0, "\(path.rawValue): \(gflops) GFLOP/s")
        }
    }
}
