import KibanKernels

/// GELU variants, matching PyTorch's `approximate` argument.
public enum GELUApproximation: String, Sendable, Codable {
    /// 0.5·x·(1 + erf(x/√2)) — PyTorch `approximate="none"`, BERT and ESM-2.
    case none
    /// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) — PyTorch `approximate="tanh"`, GPT-2.
    case tanh
}

extension Tensor {
    /// GELU, one tape node over the C kernels (chunks of elements split over threads).
    public func gelu(approximation: GELUApproximation = .none) -> Tensor {
        let input = contiguous()
        let output = Tensor.empty(shape)
        let forward = approximation == .tanh ? kb_gelu_tanh_forward : kb_gelu_erf_forward
        let (x, y) = (UnsafePointer(input.pointer), output.pointer)
        Threading.parallelFor(count, minimumPerTask: 16_384) { range in
            forward(x + range.lowerBound, y + range.lowerBound, range.count)
        }
        return Tensor.record("gelu", inputs: [input], output: output) { [x = input.detached()] gradient in
            [Tensor.geluBackward(x, gradient, approximation: approximation)]
        }
    }

    /// dy · GELU′(x) over the C kernels, in parallel chunks. x: contiguous; dy: x's shape → x's shape.
    static func geluBackward(_ x: Tensor, _ gradient: Tensor, approximation: GELUApproximation) -> Tensor {
        let backward = approximation == .tanh ? kb_gelu_tanh_backward : kb_gelu_erf_backward
        let dy = gradient.contiguousWithoutTape()
        let dx = Tensor.empty(x.shape)
        withExtendedLifetime(dy) {
            let (xp, dyp, dxp) = (UnsafePointer(x.pointer), UnsafePointer(dy.pointer), dx.pointer)
            Threading.parallelFor(x.count, minimumPerTask: 16_384) { range in
                backward(xp + range.lowerBound, dyp + range.lowerBound, dxp + range.lowerBound, range.count)
            }
        }
        return dx
    }
}
