import Foundation
import KibanKernels
import Testing

// The scalar reference of every kernel against the textbook formula evaluated in Double on the same float32
// inputs. Contracts (masking, limits at ±∞) are those of Kernels/include/kiban_kernels.h.

/// Textbook Double-precision formulas, one per kernel, written from the header's contracts.
enum DoubleFormula {
    /// exp(x − max) / Σ exp(x − max). A fully masked row (all −∞) gives zeros; NaN or +∞ anywhere gives NaN
    /// everywhere. x: (n).
    static func softmax(_ x: [Double]) -> [Double] {
        if x.contains(where: { $0.isNaN || $0 == .infinity }) { return x.map { _ in .nan } }
        let max = x.max() ?? -.infinity
        if max == -.infinity { return x.map { _ in 0 } }
        let e = x.map { exp($0 - max) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// x − max − log Σ exp(x − max). A fully masked row gives −∞ everywhere; NaN or +∞ anywhere gives NaN
    /// everywhere. x: (n).
    static func logSoftmax(_ x: [Double]) -> [Double] {
        if x.contains(where: { $0.isNaN || $0 == .infinity }) { return x.map { _ in .nan } }
        let max = x.max() ?? -.infinity
        if max == -.infinity { return x.map { _ in -.infinity } }
        let logSum = log(x.map { exp($0 - max) }.reduce(0, +))
        return x.map { $0 - max - logSum }
    }

    /// dx = y ⊙ (dy − Σ dy·y), y the softmax output. y, dy: (n).
    static func softmaxBackward(y: [Double], dy: [Double]) -> [Double] {
        let dot = zip(dy, y).map { $0 * $1 }.reduce(0, +)
        return zip(y, dy).map { $0 * ($1 - dot) }
    }

    /// dx = dy − exp(y)·Σ dy, y the log-softmax output. y, dy: (n).
    static func logSoftmaxBackward(y: [Double], dy: [Double]) -> [Double] {
        let sum = dy.reduce(0, +)
        return zip(y, dy).map { $1 - exp($0) * sum }
    }

    /// Layer norm of one row with the biased variance: y = (x − mean)/√(var + eps)·weight + bias, weight 1 and
    /// bias 0 when nil. x, weight, bias: (n).
    static func layerNorm(_ x: [Double], weight: [Double]?, bias: [Double]?, eps: Double)
        -> (y: [Double], mean: Double, rstd: Double)
    {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
        let rstd = 1 / (variance + eps).squareRoot()
        let y = x.indices.map { i in (x[i] - mean) * rstd * (weight?[i] ?? 1) + (bias?[i] ?? 0) }
        return (y, mean, rstd)
    }

    /// Layer-norm input gradient of one row given its statistics: x̂ = (x − mean)·rstd, g = dy ⊙ weight,
    /// dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)). x, dy, weight: (n).
    static func layerNormBackward(x: [Double], dy: [Double], weight: [Double]?, mean: Double, rstd: Double) -> [Double] {
        let n = Double(x.count)
        let xhat = x.map { ($0 - mean) * rstd }
        let g = dy.indices.map { i in dy[i] * (weight?[i] ?? 1) }
        let gMean = g.reduce(0, +) / n
        let gxMean = zip(g, xhat).map { $0 * $1 }.reduce(0, +) / n
        return g.indices.map { i in rstd * (g[i] - gMean - xhat[i] * gxMean) }
    }

    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with its limit 0 at −∞.
    static func geluTanh(_ x: Double) -> Double {
        if x == -.infinity { return 0 }
        return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    /// d/dx of geluTanh: 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·u′, u′ = √(2/π)·(1 + 3·0.044715·x²); 1 at +∞, 0 at −∞.
    static func geluTanhDerivative(_ x: Double) -> Double {
        if x.isInfinite { return x > 0 ? 1 : 0 }
        let c = (2 / Double.pi).squareRoot()
        let t = tanh(c * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    }

    /// x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with its limit 0 at −∞.
    static func geluErf(_ x: Double) -> Double {
        if x == -.infinity { return 0 }
        return 0.5 * x * (1 + erf(x / 2.squareRoot()))
    }

    /// d/dx of geluErf: Φ(x) + x·φ(x); 1 at +∞, 0 at −∞.
    static func geluErfDerivative(_ x: Double) -> Double {
        if x.isInfinite { return x > 0 ? 1 : 0 }
        return 0.5 * (1 + erf(x / 2.squareRoot())) + x * exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
    }

    /// One AdamW step as PyTorch takes it (decoupled weight decay), on one element:
    /// p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; p ← p − lr·(m/bc₁)/(√(v/bc₂) + ε).
    static func adamwStep(
        param: inout Double, m: inout Double, v: inout Double, grad: Double, learningRate: Double, beta1: Double,
        beta2: Double, epsilon: Double, weightDecay: Double, biasCorrection1: Double, biasCorrection2: Double
    ) {
        param *= 1 - learningRate * weightDecay
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        param -= learningRate * (m / biasCorrection1) / ((v / biasCorrection2).squareRoot() + epsilon)
    }
}

/// `values` as Doubles, cut into rows of n: (values.count / n, n).
private func doubleRows(_ values: [Float], n: Int) -> [[Double]] {
    stride(from: 0, to: values.count, by: n).map { values[$0..<($0 + n)].map { Double($0) } }
}

/// The Double formula of `kernel` on `inputs`, laid out as `run` lays out the kernel's outputs.
func doubleReference(_ kernel: Kernel, on inputs: KernelInputs) -> [Double] {
    let n = inputs.n
    let double = { (values: [Float]) in values.map { Double($0) } }
    switch kernel {
    case .softmax:
        return doubleRows(inputs.x, n: n).flatMap(DoubleFormula.softmax)
    case .logSoftmax:
        return doubleRows(inputs.x, n: n).flatMap(DoubleFormula.logSoftmax)
    case .softmaxBackward:
        return zip(doubleRows(inputs.y, n: n), doubleRows(inputs.dy, n: n)).flatMap(DoubleFormula.softmaxBackward)
    case .logSoftmaxBackward:
        return zip(doubleRows(inputs.y, n: n), doubleRows(inputs.dy, n: n)).flatMap(DoubleFormula.logSoftmaxBackward)
    case .layerNormForward:
        let (weight, bias, eps) = (double(inputs.weight), double(inputs.bias), Double(layerNormEpsilon))
        let affine = doubleRows(inputs.x, n: n).map { DoubleFormula.layerNorm($0, weight: weight, bias: bias, eps: eps) }
        let plain = doubleRows(inputs.x, n: n).map { DoubleFormula.layerNorm($0, weight: nil, bias: nil, eps: eps) }
        return [affine, plain].flatMap { rows in rows.flatMap(\.y) + rows.map(\.mean) + rows.map(\.rstd) }
    case .layerNormBackward:
        let (x, dy, weight) = (doubleRows(inputs.x, n: n), doubleRows(inputs.dy, n: n), double(inputs.weight))
        let (mean, rstd) = (double(inputs.mean), double(inputs.rstd))
        let dx = x.indices.flatMap { r in
            DoubleFormula.layerNormBackward(x: x[r], dy: dy[r], weight: weight, mean: mean[r], rstd: rstd[r])
        }
        let dxPlain = x.indices.flatMap { r in
            DoubleFormula.layerNormBackward(x: x[r], dy: dy[r], weight: nil, mean: mean[r], rstd: rstd[r])
        }
        // dweight and dbias accumulate onto their starting values: + Σ over rows of dy·x̂ and of dy.
        let dweight = (0..<n).map { i in
            Double(inputs.dweight[i]) + x.indices.map { r in dy[r][i] * (x[r][i] - mean[r]) * rstd[r] }.reduce(0, +)
        }
        let dbias = (0..<n).map { i in Double(inputs.dbias[i]) + dy.map { $0[i] }.reduce(0, +) }
        return dx + dweight + dbias + dxPlain
    case .geluTanhForward:
        return double(inputs.x).map(DoubleFormula.geluTanh)
    case .geluErfForward:
        return double(inputs.x).map(DoubleFormula.geluErf)
    case .geluTanhBackward:
        return zip(double(inputs.x), double(inputs.dy)).map { $1 * DoubleFormula.geluTanhDerivative($0) }
    case .geluErfBackward:
        return zip(double(inputs.x), double(inputs.dy)).map { $1 * DoubleFormula.geluErfDerivative($0) }
    case .adamw:
        var (param, m, v) = (double(inputs.param), double(inputs.m), double(inputs.v))
        for step in AdamWSettings.steps {
            let corrections = AdamWSettings.biasCorrections(step: step)
            for i in 0..<n {
                DoubleFormula.adamwStep(
                    param: &param[i], m: &m[i], v: &v[i], grad: Double(inputs.grad[i]),
                    learningRate: Double(AdamWSettings.learningRate), beta1: Double(AdamWSettings.beta1),
                    beta2: Double(AdamWSettings.beta2), epsilon: Double(AdamWSettings.epsilon),
                    weightDecay: Double(AdamWSettings.weightDecay), biasCorrection1: Double(corrections.first),
                    biasCorrection2: Double(corrections.second))
            }
        }
        return param + m + v
    case .sum:
        return [double(inputs.x).reduce(0, +)]
    case .sumSquares:
        return [double(inputs.x).map { $0 * $0 }.reduce(0, +)]
    }
}

/// How close a float32 scalar reference must come to its Double formula, |a − r| ≤ absolute + relative·|r|
/// (NaN and infinities in the same places). Measured on these inputs at every length, no element uses more than
/// 27% of its bound.
extension Kernel {
    var doubleFormulaTolerance: Tolerance {
        switch self {
        case .layerNormForward, .layerNormBackward:
            // The variance and the backward's means are float sums over the row, so the error of y scales with
            // |x̂·weight| + |bias| rather than |y|: worst measured 5.5e-7 at |y| < 1e-2 (n = 1000), 27% of this bound.
            Tolerance(absolute: 2e-6, relative: 1e-5)
        case .sum, .sumSquares:
            // Measured: 0 (the reference and the formula add in the same index order).
            .doubleAccumulation
        default:
            // Elementwise libm calls and at most one float row sum: worst measured 19% of this bound
            // (log-softmax, n = 17).
            Tolerance(absolute: 2e-7, relative: 2e-6)
        }
    }
}

/// Every kernel's `_scalar` reference, the one the vector paths are held to, against the textbook formula in Double.
@Suite
struct ScalarReferenceTests {
    @Test(arguments: Kernel.allCases)
    func scalarReferenceMatchesDoubleFormula(kernel: Kernel) {
        for n in kernelLengths {
            let inputs = KernelInputs(kernel, n: n)
            let problem = firstMismatch(
                run(kernel, on: inputs, .scalarReference), doubleReference(kernel, on: inputs),
                tolerance: kernel.doubleFormulaTolerance)
            #expect(problem == nil, "\(kernel.rawValue), n = \(n): \(problem ?? "")")
        }
    }
}
