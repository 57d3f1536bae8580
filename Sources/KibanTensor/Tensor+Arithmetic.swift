import KibanKernels

/// Broadcasting arithmetic. Gradients of broadcast operands are summed back to their shapes.
extension Tensor {
    /// a + b with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let output = Elementwise.binary(a, b, KB_BINARY_ADD, op: "add")
        return record("add", inputs: [a, b], output: output) { [aShape = a.shape, bShape = b.shape] gradient in
            [gradient.summed(toShape: aShape), gradient.summed(toShape: bShape)]
        }
    }

    /// a − b with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let output = Elementwise.binary(a, b, KB_BINARY_SUB, op: "sub")
        return record("sub", inputs: [a, b], output: output) { [aShape = a.shape, bShape = b.shape] gradient in
            [gradient.summed(toShape: aShape), (-gradient).summed(toShape: bShape)]
        }
    }

    /// a ⊙ b with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let output = Elementwise.binary(a, b, KB_BINARY_MUL, op: "mul")
        let node = record("mul", inputs: [a, b], output: output) { [a = a.detached(), b = b.detached()] gradient in
            [(gradient * b).summed(toShape: a.shape), (gradient * a).summed(toShape: b.shape)]
        }
        return node
    }

    /// a / b with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let output = Elementwise.binary(a, b, KB_BINARY_DIV, op: "div")
        return record("div", inputs: [a, b], output: output) { [a = a.detached(), b = b.detached()] gradient in
            let gradA = (gradient / b).summed(toShape: a.shape)
            let gradB = Elementwise.zip3(gradient, a, b, op: "div.backward") { g, x, y in -g * x / (y * y) }
            return [gradA, gradB.summed(toShape: b.shape)]
        }
    }

    /// −x.
    public static prefix func - (x: Tensor) -> Tensor {
        record("neg", inputs: [x], output: Elementwise.unary(x, KB_UNARY_NEG)) { gradient in [-gradient] }
    }

    /// x + s.
    public static func + (x: Tensor, s: Float) -> Tensor {
        record("add_scalar", inputs: [x], output: Elementwise.unary(x, KB_UNARY_ADD_SCALAR, s)) { gradient in [gradient] }
    }

    /// s + x.
    public static func + (s: Float, x: Tensor) -> Tensor { x + s }

    /// x − s.
    public static func - (x: Tensor, s: Float) -> Tensor { x + (-s) }

    /// s − x.
    public static func - (s: Float, x: Tensor) -> Tensor { -x + s }

    /// x · s.
    public static func * (x: Tensor, s: Float) -> Tensor {
        record("mul_scalar", inputs: [x], output: Elementwise.unary(x, KB_UNARY_MUL_SCALAR, s)) { gradient in [gradient * s] }
    }

    /// s · x.
    public static func * (s: Float, x: Tensor) -> Tensor { x * s }

    /// x / s.
    public static func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }
}
