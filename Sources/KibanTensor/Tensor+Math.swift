import Foundation
import KibanKernels

/// Elementwise functions. Each backward uses the saved input or output, whichever is cheaper.
extension Tensor {
    /// eˣ.
    public func exp() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_EXP)
        return Tensor.record("exp", inputs: [self], output: output) { [y = output.detached()] gradient in
            [gradient * y]
        }
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_LOG)
        return Tensor.record("log", inputs: [self], output: output) { [x = detached()] gradient in [gradient / x] }
    }

    /// Square root.
    public func sqrt() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_SQRT)
        return Tensor.record("sqrt", inputs: [self], output: output) { [y = output.detached()] gradient in
            [Elementwise.zip(gradient, y, op: "sqrt.backward") { g, r in g / (2 * r) }]
        }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_TANH)
        return Tensor.record("tanh", inputs: [self], output: output) { [y = output.detached()] gradient in
            [Elementwise.zip(gradient, y, op: "tanh.backward") { g, t in g * (1 - t * t) }]
        }
    }

    /// Logistic sigmoid 1 / (1 + e⁻ˣ).
    public func sigmoid() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_SIGMOID)
        return Tensor.record("sigmoid", inputs: [self], output: output) { [y = output.detached()] gradient in
            [Elementwise.zip(gradient, y, op: "sigmoid.backward") { g, s in g * s * (1 - s) }]
        }
    }

    /// max(x, 0); the gradient at 0 is 0.
    public func relu() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_RELU)
        return Tensor.record("relu", inputs: [self], output: output) { [x = detached()] gradient in
            [Elementwise.zip(gradient, x, op: "relu.backward") { g, v in v > 0 ? g : 0 }]
        }
    }

    /// xᵖ for a constant exponent.
    public func pow(_ exponent: Float) -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_POW, exponent)
        return Tensor.record("pow", inputs: [self], output: output) { [x = detached()] gradient in
            [Elementwise.zip(gradient, x, op: "pow.backward") { g, v in exponent == 0 ? 0 : g * exponent * Foundation.pow(v, exponent - 1) }]
        }
    }

    /// |x|; the gradient at 0 is 0.
    public func abs() -> Tensor {
        let output = Elementwise.unary(self, KB_UNARY_ABS)
        return Tensor.record("abs", inputs: [self], output: output) { [x = detached()] gradient in
            [Elementwise.zip(gradient, x, op: "abs.backward") { g, v in v > 0 ? g : v < 0 ? -g : 0 }]
        }
    }

    /// x².
    public func squared() -> Tensor { self * self }
}
