// Dim legend: N rows (all leading axes together), K input features, D output features.

extension Tensor {
    /// y = x Wᵀ + b (+ residual) as one tape node: the bias is written into the output first and the
    /// GEMM accumulates onto it (β = 1) and adds `residual` in its epilogue, while each tile is still in
    /// cache; the backward produces dx, dW and db in one step, adding dW and db straight into the
    /// parameters' gradient buffers where they have them (β = 1 again). The result equals
    /// `linear(x, weight:, bias:) + residual` bit for bit.
    ///
    /// x: (…, K); weight: (D, K) as PyTorch stores it; bias: (D) or nil; residual: (…, D) or nil → (…, D).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor? = nil) -> Tensor {
        fusedLinear(x, weight: weight, bias: bias, residual: residual, gelu: nil)
    }

    /// GELU(x Wᵀ + b) as one tape node, the GELU applied in the GEMM's epilogue (the transformer
    /// feed-forward's first layer); equals `linear(x, weight:, bias:).gelu(approximation:)` bit for bit.
    ///
    /// x: (…, K); weight: (D, K); bias: (D) or nil → (…, D).
    public static func linearGELU(_ x: Tensor, weight: Tensor, bias: Tensor?, approximation: GELUApproximation = .none) -> Tensor {
        fusedLinear(x, weight: weight, bias: bias, residual: nil, gelu: approximation)
    }

    /// y = act(x Wᵀ + b + residual), act GELU or the identity; see ``linear(_:weight:bias:residual:)``.
    private static func fusedLinear(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?, gelu: GELUApproximation?) -> Tensor {
        tensorCheck(
            x.rank >= 1 && weight.rank == 2 && x.shape[x.rank - 1] == weight.shape[1], "linear",
            "input \(describeShape(x.shape)) and weight \(describeShape(weight.shape)); expected (…, K) and (D, K)")
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        let outputShape = Array(x.shape.dropLast()) + [outputs]
        tensorCheck(
            bias == nil || bias!.shape == [outputs], "linear",
            "bias \(describeShape(bias?.shape ?? [])) for weight \(describeShape(weight.shape))")
        tensorCheck(
            residual == nil || residual!.shape == outputShape, "linear",
            "residual \(describeShape(residual?.shape ?? [])) for an output of shape \(describeShape(outputShape))")
        let rows = x.count / Swift.max(inputs, 1)
        let input = x.contiguousWithoutTape(), w = weight.unitStrideRows()
        let preactivation = Tensor.empty(outputShape)
        if let bias {
            let values = bias.contiguousWithoutTape()
            for row in 0..<rows { (preactivation.pointer + row * outputs).update(from: values.pointer, count: outputs) }
        }
        let added = residual?.contiguousWithoutTape()
        let activated = gelu.map { _ in Tensor.empty(outputShape) }
        var epilogue: GEMMEpilogue?
        if added != nil || gelu != nil {
            epilogue = GEMMEpilogue(
                residual: added.map { (UnsafePointer($0.pointer), outputs) },
                activated: activated.flatMap { tensor in gelu.map { (tensor.pointer, outputs, $0) } })
        }
        withExtendedLifetime((input, w, added)) {
            gemm(
                .noTranspose, .transpose, rows, outputs, inputs, 1, (input.pointer, inputs), (w.pointer, inputs), bias == nil ? 0 : 1,
                preactivation.pointer, outputs, epilogue: epilogue)
        }
        let (needsInput, needsWeight, needsBias) = (x.requiresGrad, weight.requiresGrad, bias?.requiresGrad ?? false)
        var tapeInputs = [x, weight]
        if let bias { tapeInputs.append(bias) }
        if let residual { tapeInputs.append(residual) }
        return record(gelu == nil ? "linear" : "linear_gelu", inputs: tapeInputs, output: activated ?? preactivation) {
            [xShape = x.shape, pre = gelu == nil ? nil : preactivation.detached()] gradient in
            let dy = gelu.map { geluBackward(pre!, gradient, approximation: $0) } ?? gradient.contiguousWithoutTape()
            var gradients: [Tensor?] = []
            withExtendedLifetime((dy, input, w)) {
                var dx: Tensor?
                if needsInput {
                    let result = Tensor.empty(xShape)
                    gemm(.noTranspose, .noTranspose, rows, inputs, outputs, 1, (dy.pointer, outputs), (w.pointer, inputs), 0, result.pointer, inputs)
                    dx = result
                }
                var dw: Tensor?
                if needsWeight {
                    let target = weight.leafGradientBuffer
                    let result = target ?? Tensor.empty([outputs, inputs])
                    gemm(
                        .transpose, .noTranspose, outputs, inputs, rows, 1, (dy.pointer, outputs), (input.pointer, inputs),
                        target == nil ? 0 : 1, result.pointer, inputs)
                    dw = target == nil ? result : nil
                }
                gradients = [dx, dw]
                if let bias {
                    gradients.append(needsBias ? columnSums(dy.pointer, rows: rows, columns: outputs, into: bias.leafGradientBuffer) : nil)
                }
                if residual != nil { gradients.append(dy) }
            }
            return gradients
        }
    }

    /// Sums of each column of a (rows, columns) buffer, rows added in order (deterministic): (columns);
    /// added into `target` when given (nil is returned then).
    private static func columnSums(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int, into target: Tensor?) -> Tensor? {
        let sums = target ?? Tensor.empty([columns])
        sumAxis(values, outer: 1, reduced: rows, inner: columns, into: sums.pointer, accumulate: target != nil)
        return target == nil ? sums : nil
    }

    /// This matrix if its rows are unit-stride with a row stride of its width, else a contiguous copy.
    private func unitStrideRows() -> Tensor {
        isContiguous ? self : copied()
    }
}
