import Foundation
import KibanKernels

// Shared by KernelPathTests (vector paths against the scalar reference) and ScalarReferenceTests
// (the scalar reference against Double formulas): the kernels, their seeded inputs, a runner and a comparison.

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

/// Every dispatched kernel.
enum Kernel: String, CaseIterable, Sendable {
    case softmax, logSoftmax, softmaxBackward, logSoftmaxBackward
    case layerNormForward, layerNormBackward
    case geluTanhForward, geluTanhBackward, geluErfForward, geluErfBackward
    case adamw, sum, sumSquares
}

/// Row lengths every kernel is run at: 1, one under and one over a 16-lane vector, and a long row.
let kernelLengths = [1, 15, 17, 1000]

/// Random rows per row kernel (softmax and log-softmax forward add four masking rows).
let randomRows = 3

/// The eps every layer-norm call uses.
let layerNormEpsilon: Float = 1e-5

/// The AdamW hyperparameters and steps every AdamW call uses, as the Float arguments the kernel receives.
enum AdamWSettings {
    static let learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    static let weightDecay: Float = 0.01
    static let steps = 1...3

    /// bias_correctionK = 1 − βK^step.
    static func biasCorrections(step: Int) -> (first: Float, second: Float) {
        (Float(1 - pow(Double(beta1), Double(step))), Float(1 - pow(Double(beta2), Double(step))))
    }
}

/// `randomRows` random rows followed by the masking cases: every third entry −∞, all −∞, one +∞, one NaN.
/// Result: (randomRows + 4, n).
func maskedSoftmaxInput(n: Int, rng: inout SplitMix64) -> [Float] {
    var x = rng.floats((randomRows + 4) * n, scale: 8)
    let row = { (r: Int) in (randomRows + r) * n }
    for i in stride(from: 0, to: n, by: 3) { x[row(0) + i] = -.infinity }
    for i in 0..<n { x[row(1) + i] = -.infinity }
    x[row(2) + n / 2] = .infinity
    x[row(3) + n / 3] = .nan
    return x
}

/// Random values in [-10, 10) with large magnitudes and infinities at every fourth index. Result: (n).
func geluInput(n: Int, rng: inout SplitMix64) -> [Float] {
    let specials: [Float] = [.infinity, -.infinity, 1e4, -1e4, 1e20, -1e20, 0, 30, -30]
    var x = rng.floats(n, scale: 10)
    for (k, i) in stride(from: 3, to: n, by: 4).enumerated() { x[i] = specials[k % specials.count] }
    return x
}

/// The seeded inputs of one kernel at row length n, read by the dispatcher, the scalar reference and the
/// Double formulas alike. Fields the kernel does not read are empty.
struct KernelInputs {
    let kernel: Kernel
    /// Row length (flat kernels: vector length).
    let n: Int
    /// Forward input: (rows, n) for row kernels, (n) otherwise; for a softmax backward, the forward's input.
    var x: [Float] = []
    /// Upstream gradient: same shape as x.
    var dy: [Float] = []
    /// Softmax or log-softmax of x by the scalar reference, which a backward kernel reads: (randomRows, n).
    var y: [Float] = []
    /// Layer-norm weight and bias: (n).
    var weight: [Float] = [], bias: [Float] = []
    /// Layer-norm statistics of x by the scalar reference forward, which the backward reads: (randomRows).
    var mean: [Float] = [], rstd: [Float] = []
    /// Starting values of the layer-norm backward's dweight and dbias accumulators: (n).
    var dweight: [Float] = [], dbias: [Float] = []
    /// AdamW parameters, moments (v ≥ 0) before the first step, and the gradient of every step: (n).
    var param: [Float] = [], m: [Float] = [], v: [Float] = [], grad: [Float] = []

    /// Rows of x (row kernels).
    var rows: Int { x.count / n }

    init(_ kernel: Kernel, n: Int) {
        (self.kernel, self.n) = (kernel, n)
        var rng = SplitMix64(state: 0x5EED_0000 &+ UInt64(n))
        let count = randomRows * n
        switch kernel {
        case .softmax, .logSoftmax:
            x = maskedSoftmaxInput(n: n, rng: &rng)
        case .softmaxBackward:
            (x, dy) = (rng.floats(count, scale: 4), rng.floats(count))
            y = [Float](repeating: 0, count: count)
            kb_softmax_rows_scalar(x, &y, randomRows, n)
        case .logSoftmaxBackward:
            x = rng.floats(count, scale: 4)
            for i in stride(from: 0, to: count, by: 4) { x[i] = -.infinity }
            dy = rng.floats(count)
            y = [Float](repeating: 0, count: count)
            kb_log_softmax_rows_scalar(x, &y, randomRows, n)
        case .layerNormForward:
            x = rng.floats(count, scale: 3).map { $0 + 1 }
            (weight, bias) = (rng.floats(n).map { $0 + 1 }, rng.floats(n))
        case .layerNormBackward:
            x = rng.floats(count, scale: 3).map { $0 + 1 }
            (weight, dy) = (rng.floats(n).map { $0 + 1 }, rng.floats(count))
            var normalized = [Float](repeating: 0, count: count)
            (mean, rstd) = ([Float](repeating: 0, count: randomRows), [Float](repeating: 0, count: randomRows))
            kb_layernorm_forward_scalar(x, weight, nil, &normalized, &mean, &rstd, randomRows, n, layerNormEpsilon)
            (dweight, dbias) = (rng.floats(n), rng.floats(n))
        case .geluTanhForward, .geluErfForward:
            x = geluInput(n: n, rng: &rng)
        case .geluTanhBackward, .geluErfBackward:
            x = geluInput(n: n, rng: &rng)
            dy = rng.floats(n)
        case .adamw:
            (param, m) = (rng.floats(n), rng.floats(n, scale: 0.1))
            v = rng.floats(n, scale: 0.01).map { abs($0) }
            grad = rng.floats(n)
        case .sum, .sumSquares:
            x = rng.floats(n)
        }
    }
}

/// Which implementation of a kernel to run.
enum KernelImplementation {
    /// kb_X: whichever path is active.
    case dispatcher
    /// kb_X_scalar.
    case scalarReference
}

/// Runs one kernel on its inputs and returns every output concatenated, in this order:
/// softmax and log-softmax: y; backward kernels: dx; layer norm forward: y, mean, rstd with weight and bias,
/// then the same without; layer norm backward: dx, dweight, dbias with weight, then dx without weight;
/// GELU: y or dx; AdamW: param, m, v after every step; sums: the sum.
func run(_ kernel: Kernel, on inputs: KernelInputs, _ implementation: KernelImplementation) -> [Double] {
    let (n, rows, scalar) = (inputs.n, inputs.rows, implementation == .scalarReference)
    var out = [Float]()
    switch kernel {
    case .softmax, .logSoftmax:
        var y = [Float](repeating: 0, count: inputs.x.count)
        switch (kernel, scalar) {
        case (.softmax, true): kb_softmax_rows_scalar(inputs.x, &y, rows, n)
        case (.softmax, false): kb_softmax_rows(inputs.x, &y, rows, n)
        case (_, true): kb_log_softmax_rows_scalar(inputs.x, &y, rows, n)
        case (_, false): kb_log_softmax_rows(inputs.x, &y, rows, n)
        }
        out = y
    case .softmaxBackward, .logSoftmaxBackward:
        var dx = [Float](repeating: 0, count: inputs.dy.count)
        switch (kernel, scalar) {
        case (.softmaxBackward, true): kb_softmax_rows_backward_scalar(inputs.y, inputs.dy, &dx, randomRows, n)
        case (.softmaxBackward, false): kb_softmax_rows_backward(inputs.y, inputs.dy, &dx, randomRows, n)
        case (_, true): kb_log_softmax_rows_backward_scalar(inputs.y, inputs.dy, &dx, randomRows, n)
        case (_, false): kb_log_softmax_rows_backward(inputs.y, inputs.dy, &dx, randomRows, n)
        }
        out = dx
    case .layerNormForward:
        let forward = scalar ? kb_layernorm_forward_scalar : kb_layernorm_forward
        let (x, eps) = (inputs.x, layerNormEpsilon)
        var y = [Float](repeating: 0, count: x.count), yPlain = y
        var mean = [Float](repeating: 0, count: rows), rstd = mean, meanPlain = mean, rstdPlain = mean
        forward(x, inputs.weight, inputs.bias, &y, &mean, &rstd, rows, n, eps)
        forward(x, nil, nil, &yPlain, &meanPlain, &rstdPlain, rows, n, eps)
        out = [y, mean, rstd, yPlain, meanPlain, rstdPlain].flatMap { $0 }
    case .layerNormBackward:
        let backward = scalar ? kb_layernorm_backward_scalar : kb_layernorm_backward
        var dx = [Float](repeating: 0, count: inputs.x.count), dxPlain = dx
        var dweight = inputs.dweight, dbias = inputs.dbias
        backward(inputs.x, inputs.weight, inputs.mean, inputs.rstd, inputs.dy, &dx, &dweight, &dbias, rows, n)
        backward(inputs.x, nil, inputs.mean, inputs.rstd, inputs.dy, &dxPlain, nil, nil, rows, n)
        out = [dx, dweight, dbias, dxPlain].flatMap { $0 }
    case .geluTanhForward, .geluErfForward:
        var y = [Float](repeating: 0, count: n)
        switch (kernel, scalar) {
        case (.geluTanhForward, true): kb_gelu_tanh_forward_scalar(inputs.x, &y, n)
        case (.geluTanhForward, false): kb_gelu_tanh_forward(inputs.x, &y, n)
        case (_, true): kb_gelu_erf_forward_scalar(inputs.x, &y, n)
        case (_, false): kb_gelu_erf_forward(inputs.x, &y, n)
        }
        out = y
    case .geluTanhBackward, .geluErfBackward:
        var dx = [Float](repeating: 0, count: n)
        switch (kernel, scalar) {
        case (.geluTanhBackward, true): kb_gelu_tanh_backward_scalar(inputs.x, inputs.dy, &dx, n)
        case (.geluTanhBackward, false): kb_gelu_tanh_backward(inputs.x, inputs.dy, &dx, n)
        case (_, true): kb_gelu_erf_backward_scalar(inputs.x, inputs.dy, &dx, n)
        case (_, false): kb_gelu_erf_backward(inputs.x, inputs.dy, &dx, n)
        }
        out = dx
    case .adamw:
        let update = scalar ? kb_adamw_update_scalar : kb_adamw_update
        var param = inputs.param, m = inputs.m, v = inputs.v
        for step in AdamWSettings.steps {
            let corrections = AdamWSettings.biasCorrections(step: step)
            update(
                &param, inputs.grad, &m, &v, n, AdamWSettings.learningRate, AdamWSettings.beta1, AdamWSettings.beta2,
                AdamWSettings.epsilon, AdamWSettings.weightDecay, corrections.first, corrections.second)
        }
        out = [param, m, v].flatMap { $0 }
    case .sum:
        return [scalar ? kb_sum_scalar(inputs.x, n) : kb_sum(inputs.x, n)]
    case .sumSquares:
        return [scalar ? kb_sum_squares_scalar(inputs.x, n) : kb_sum_squares(inputs.x, n)]
    }
    return out.map { Double($0) }
}

/// An elementwise bound |a − r| ≤ absolute + relative·|r|.
struct Tolerance: CustomStringConvertible {
    let absolute: Double, relative: Double

    var description: String { "|a − r| ≤ \(absolute) + \(relative)·|r|" }

    /// For sums accumulated in double, in any order: Double rounding errs by at most (n − 1)·2⁻⁵³·Σ|x| ≈ 1.1e-10
    /// at n = 1000, |x| < 1, while a float accumulator is off by 1e-7 (n = 15) to 1e-5 (n = 1000).
    static let doubleAccumulation = Tolerance(absolute: 2e-10, relative: 1e-12)
}

/// The first element where `got` differs from `reference` beyond `tolerance`; NaN positions and infinities
/// must match exactly.
func firstMismatch(_ got: [Double], _ reference: [Double], tolerance: Tolerance) -> String? {
    guard got.count == reference.count else { return "\(got.count) outputs, reference has \(reference.count)" }
    for (i, (a, r)) in zip(got, reference).enumerated() {
        let ok: Bool
        if a.isNaN || r.isNaN {
            ok = a.isNaN && r.isNaN
        } else if a.isInfinite || r.isInfinite {
            ok = a == r
        } else {
            ok = abs(a - r) <= tolerance.absolute + tolerance.relative * abs(r)
        }
        if !ok { return "output \(i) is \(a), reference \(r) (\(tolerance))" }
    }
    return nil
}
