import KibanKernels

extension Tensor {
    /// Layer normalisation over the last axis, one tape node over the C kernels.
    ///
    /// x: (…, C); weight, bias: (C) or nil (then 1 and 0). Variance is biased, as in PyTorch.
    public func layerNorm(weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
        let channels = shape.last ?? 0
        for (name, parameter) in [("weight", weight), ("bias", bias)] {
            guard let parameter else { continue }
            tensorCheck(
                parameter.shape == [channels], "layer_norm",
                "\(name) of shape \(describeShape(parameter.shape)) for input of shape \(describeShape(shape)); "
                    + "expected (\(channels),)")
        }
        tensorCheck(rank >= 1, "layer_norm", "needs at least one axis, got shape \(describeShape(shape))")
        let input = contiguous(), gamma = weight?.contiguous(), beta = bias?.contiguous()
        let rows = channels == 0 ? 0 : count / channels
        let output = Tensor.empty(shape)
        let mean = Tensor.empty([rows]), rstd = Tensor.empty([rows])
        let x = UnsafePointer(input.pointer), y = output.pointer
        let w = gamma.map { UnsafePointer($0.pointer) }, b = beta.map { UnsafePointer($0.pointer) }
        let (meanPointer, rstdPointer) = (mean.pointer, rstd.pointer)
        Threading.parallelRows(rows, rowLength: channels) { range in
            let start = range.lowerBound * channels
            kb_layernorm_forward(
                x + start, w, b, y + start, meanPointer + range.lowerBound, rstdPointer + range.lowerBound,
                range.count, channels, epsilon)
        }
        var inputs = [input]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        let node = Tensor.record("layer_norm", inputs: inputs, output: output) {
            [x = input.detached(), gamma = gamma?.detached()] gradient in
            let dy = gradient.contiguousWithoutTape()
            let dx = Tensor.empty(x.shape)
            // Weight and bias gradients are summed per fixed block of rows, then over blocks in
            // order, so they do not depend on the thread count.
            let blockRows = 64, blocks = Swift.max(1, (rows + blockRows - 1) / blockRows)
            let chunks = Tensor.zeros([blocks, 2, channels])
            withExtendedLifetime(dy) {
                let (xp, dyp, dxp) = (UnsafePointer(x.pointer), UnsafePointer(dy.pointer), dx.pointer)
                let wp = gamma.map { UnsafePointer($0.pointer) }
                let (mp, rp, partials) = (UnsafePointer(mean.pointer), UnsafePointer(rstd.pointer), chunks.pointer)
                Threading.parallelFor(blocks, minimumPerTask: Swift.max(1, 16_384 / Swift.max(channels * blockRows, 1))) { blockRange in
                    for block in blockRange {
                        let first = block * blockRows, last = Swift.min(rows, first + blockRows)
                        guard first < last else { continue }
                        let start = first * channels
                        let partial = partials + block * 2 * channels
                        kb_layernorm_backward(
                            xp + start, wp, mp + first, rp + first, dyp + start, dxp + start,
                            partial, partial + channels, last - first, channels)
                    }
                }
            }
            let sums = chunks.summed(axes: [0])
            var gradients: [Tensor?] = [dx]
            if gamma != nil { gradients.append(sums.sliced(axis: 0, 0..<1).reshaped([channels]).copied()) }
            if beta != nil { gradients.append(sums.sliced(axis: 0, 1..<2).reshaped([channels]).copied()) }
            return gradients
        }
        return node
    }
}
