import Foundation
import KibanKernels
import Testing

/// SplitMix64: a tiny seeded generator, so every run and every path sees the same inputs.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float {
        (Float(next() >> 40) * 0x1p-24 * 2 - 1) * scale
    }

    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(float(scale)) }
        return out
    }
}

/// A kernel path, forced through KIBAN_KERNELS.
enum KernelPath: String, CaseIterable, Sendable {
    case scalar, avx2, avx512

    var kb: kb_path {
        switch self {
        case .scalar: KB_PATH_SCALAR
        case .avx2: KB_PATH_AVX2
        case .avx512: KB_PATH_AVX512
        }
    }

    var isSupported: Bool { kb_path_supported(kb) != 0 }
}

/// Every dispatched kernel, compared against its `_scalar` reference.
enum Kernel: String, CaseIterable, Sendable {
    case softmax, logSoftmax, softmaxBackward, logSoftmaxBackward
    case layerNormForward, layerNormBackward
    case geluTanhForward, geluTanhBackward, geluErfForward, geluErfBackward
    case adamw, sum, sumSquares
}

private let rows = 3

private func force(_ path: KernelPath) {
    setenv("KIBAN_KERNELS", path.rawValue, 1)
    kb_reload_path_from_env()
}

private func restoreDefaultPath() {
    unsetenv("KIBAN_KERNELS")
    kb_reload_path_from_env()
}

/// `rows` random rows followed by the masking cases: every third entry -inf, all -inf, one +inf, one NaN.
private func maskedSoftmaxInput(n: Int, rng: inout SplitMix64) -> [Float] {
    var x = rng.floats((rows + 4) * n, scale: 8)
    let row = { (r: Int) in (rows + r) * n }
    for i in stride(from: 0, to: n, by: 3) { x[row(0) + i] = -.infinity }
    for i in 0..<n { x[row(1) + i] = -.infinity }
    x[row(2) + n / 2] = .infinity
    x[row(3) + n / 3] = .nan
    return x
}

/// Random values in [-10, 10) with large magnitudes and infinities at every fourth index.
private func geluInput(n: Int, rng: inout SplitMix64) -> [Float] {
    let specials: [Float] = [.infinity, -.infinity, 1e4, -1e4, 1e20, -1e20, 0, 30, -30]
    var x = rng.floats(n, scale: 10)
    for (k, i) in stride(from: 3, to: n, by: 4).enumerated() { x[i] = specials[k % specials.count] }
    return x
}

/// Runs `kernel` on seeded inputs of length n (row kernels: several rows of n) with the dispatcher, or with
/// the scalar reference when `reference` is true, and returns every output concatenated.
private func outputs(_ kernel: Kernel, n: Int, reference: Bool) -> [Double] {
    var rng = SplitMix64(state: 0x5EED_0000 &+ UInt64(n))
    let count = rows * n
    var out = [Float]()
    switch kernel {
    case .softmax:
        let x = maskedSoftmaxInput(n: n, rng: &rng)
        var y = [Float](repeating: 0, count: x.count)
        if reference {
            kb_softmax_rows_scalar(x, &y, x.count / n, n)
        } else {
            kb_softmax_rows(x, &y, x.count / n, n)
        }
        out = y
    case .logSoftmax:
        let x = maskedSoftmaxInput(n: n, rng: &rng)
        var y = [Float](repeating: 0, count: x.count)
        if reference {
            kb_log_softmax_rows_scalar(x, &y, x.count / n, n)
        } else {
            kb_log_softmax_rows(x, &y, x.count / n, n)
        }
        out = y
    case .softmaxBackward:
        let x = rng.floats(count, scale: 4), dy = rng.floats(count)
        var y = [Float](repeating: 0, count: count), dx = y
        kb_softmax_rows_scalar(x, &y, rows, n)
        if reference {
            kb_softmax_rows_backward_scalar(y, dy, &dx, rows, n)
        } else {
            kb_softmax_rows_backward(y, dy, &dx, rows, n)
        }
        out = dx
    case .logSoftmaxBackward:
        var x = rng.floats(count, scale: 4)
        for i in stride(from: 0, to: count, by: 4) { x[i] = -.infinity }
        let dy = rng.floats(count)
        var y = [Float](repeating: 0, count: count), dx = y
        kb_log_softmax_rows_scalar(x, &y, rows, n)
        if reference {
            kb_log_softmax_rows_backward_scalar(y, dy, &dx, rows, n)
        } else {
            kb_log_softmax_rows_backward(y, dy, &dx, rows, n)
        }
        out = dx
    case .layerNormForward:
        let x = rng.floats(count, scale: 3).map { $0 + 1 }
        let weight = rng.floats(n).map { $0 + 1 }, bias = rng.floats(n)
        var y = [Float](repeating: 0, count: count), yPlain = y
        var mean = [Float](repeating: 0, count: rows), rstd = mean, meanPlain = mean, rstdPlain = mean
        if reference {
            kb_layernorm_forward_scalar(x, weight, bias, &y, &mean, &rstd, rows, n, 1e-5)
            kb_layernorm_forward_scalar(x, nil, nil, &yPlain, &meanPlain, &rstdPlain, rows, n, 1e-5)
        } else {
            kb_layernorm_forward(x, weight, bias, &y, &mean, &rstd, rows, n, 1e-5)
            kb_layernorm_forward(x, nil, nil, &yPlain, &meanPlain, &rstdPlain, rows, n, 1e-5)
        }
        out = [y, mean, rstd, yPlain, meanPlain, rstdPlain].flatMap { $0 }
    case .layerNormBackward:
        let x = rng.floats(count, scale: 3).map { $0 + 1 }
        let weight = rng.floats(n).map { $0 + 1 }, dy = rng.floats(count)
        var y = [Float](repeating: 0, count: count), dx = y, dxPlain = y
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        kb_layernorm_forward_scalar(x, weight, nil, &y, &mean, &rstd, rows, n, 1e-5)
        var dweight = rng.floats(n), dbias = rng.floats(n)
        if reference {
            kb_layernorm_backward_scalar(x, weight, mean, rstd, dy, &dx, &dweight, &dbias, rows, n)
            kb_layernorm_backward_scalar(x, nil, mean, rstd, dy, &dxPlain, nil, nil, rows, n)
        } else {
            kb_layernorm_backward(x, weight, mean, rstd, dy, &dx, &dweight, &dbias, rows, n)
            kb_layernorm_backward(x, nil, mean, rstd, dy, &dxPlain, nil, nil, rows, n)
        }
        out = [dx, dweight, dbias, dxPlain].flatMap { $0 }
    case .geluTanhForward, .geluErfForward:
        let x = geluInput(n: n, rng: &rng)
        var y = [Float](repeating: 0, count: n)
        switch (kernel, reference) {
        case (.geluTanhForward, true): kb_gelu_tanh_forward_scalar(x, &y, n)
        case (.geluTanhForward, false): kb_gelu_tanh_forward(x, &y, n)
        case (_, true): kb_gelu_erf_forward_scalar(x, &y, n)
        case (_, false): kb_gelu_erf_forward(x, &y, n)
        }
        out = y
    case .geluTanhBackward, .geluErfBackward:
        let x = geluInput(n: n, rng: &rng), dy = rng.floats(n)
        var dx = [Float](repeating: 0, count: n)
        switch (kernel, reference) {
        case (.geluTanhBackward, true): kb_gelu_tanh_backward_scalar(x, dy, &dx, n)
        case (.geluTanhBackward, false): kb_gelu_tanh_backward(x, dy, &dx, n)
        case (_, true): kb_gelu_erf_backward_scalar(x, dy, &dx, n)
        case (_, false): kb_gelu_erf_backward(x, dy, &dx, n)
        }
        out = dx
    case .adamw:
        var param = rng.floats(n), m = rng.floats(n, scale: 0.1), v = rng.floats(n, scale: 0.01).map { abs($0) }
        let grad = rng.floats(n)
        for step in 1...3 {
            let bc1 = Float(1 - pow(0.9, Double(step))), bc2 = Float(1 - pow(0.999, Double(step)))
            if reference {
                kb_adamw_update_scalar(&param, grad, &m, &v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, bc1, bc2)
            } else {
                kb_adamw_update(&param, grad, &m, &v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, bc1, bc2)
            }
        }
        out = [param, m, v].flatMap { $0 }
    case .sum:
        let x = rng.floats(n)
        return [reference ? kb_sum_scalar(x, n) : kb_sum(x, n)]
    case .sumSquares:
        let x = rng.floats(n)
        return [reference ? kb_sum_squares_scalar(x, n) : kb_sum_squares(x, n)]
    }
    return out.map { Double($0) }
}

/// The first element where `got` differs from `reference`: |a - r| <= 1e-6 + 1e-5 |r|, NaN positions equal,
/// infinities equal exactly.
private func firstMismatch(_ got: [Double], _ reference: [Double]) -> String? {
    guard got.count == reference.count else { return "\(got.count) outputs, reference has \(reference.count)" }
    for (i, (a, r)) in zip(got, reference).enumerated() {
        let ok: Bool
        if a.isNaN || r.isNaN {
            ok = a.isNaN && r.isNaN
        } else if a.isInfinite || r.isInfinite {
            ok = a == r
        } else {
            ok = abs(a - r) <= 1e-6 + 1e-5 * abs(r)
        }
        if !ok { return "output \(i) is \(a), reference \(r)" }
    }
    return nil
}

@Suite(.serialized)
struct KernelPathTests {
    static let lengths = [1, 15, 17, 1000]

    @Test(arguments: Kernel.allCases, KernelPath.allCases)
    func dispatcherMatchesScalarReference(kernel: Kernel, path: KernelPath) {
        guard path.isSupported else { return }
        defer { restoreDefaultPath() }
        force(path)
        #expect(kb_active_path().rawValue == path.kb.rawValue, "KIBAN_KERNELS=\(path.rawValue) was not applied")
        for n in Self.lengths {
            let problem = firstMismatch(outputs(kernel, n: n, reference: false), outputs(kernel, n: n, reference: true))
            #expect(problem == nil, "\(kernel.rawValue) on \(path.rawValue), n = \(n): \(problem ?? "")")
        }
    }

    @Test func vectorExpGivesExactZeros() {
        defer { restoreDefaultPath() }
        for path in KernelPath.allCases where path.isSupported {
            force(path)
            let x: [Float] = [0, -.infinity, -1e30, -100]
            var y = [Float](repeating: .nan, count: 4)
            kb_softmax_rows(x, &y, 1, 4)
            #expect(y[0] == 1 && y[1] == 0 && y[2] == 0, "\(path.rawValue): \(y)")
            // libm's expf(-100) is a subnormal 3.8e-44; the vector exp returns exactly 0 below -87.7.
            #expect(y[3] >= 0 && y[3] < .leastNormalMagnitude, "\(path.rawValue): \(y)")
            if path != .scalar { #expect(y[3] == 0, "\(path.rawValue): \(y)") }
        }
    }

    @Test func maskedRowSemantics() {
        defer { restoreDefaultPath() }
        let x: [Float] = [-.infinity, -.infinity, -.infinity, 1, -.infinity, 2, 1, .infinity, 0]
        for path in KernelPath.allCases where path.isSupported {
            force(path)
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
    }

    @Test func geluSaturatesAtInfinity() {
        defer { restoreDefaultPath() }
        let x: [Float] = [.infinity, -.infinity, 1e4, -1e4]
        let ones = [Float](repeating: 1, count: 4)
        for path in KernelPath.allCases where path.isSupported {
            force(path)
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
