import KibanKernels
import KibanNN

/// Gradient norms and clipping over the flat gradient buffer (one pass each), beside the optimizers
/// that consume the clipped gradients.
extension ParameterBuffer {
    /// The global L2 norm of all gradients (accumulated in Double).
    public func gradientNorm() -> Double {
        kb_sum_squares(gradients.pointer, gradients.count).squareRoot()
    }

    /// Scales gradients so their global norm is at most `maxNorm` (as `clip_grad_norm_`, which
    /// multiplies by maxNorm / (norm + 1e-6) when the norm is larger). Returns the norm before clipping.
    @discardableResult
    public func clipGradientNorm(_ maxNorm: Double) -> Double {
        let norm = gradientNorm()
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 {
            let scale = Float(factor)
            for i in 0..<gradients.count { gradients.pointer[i] *= scale }
        }
        return norm
    }
}
