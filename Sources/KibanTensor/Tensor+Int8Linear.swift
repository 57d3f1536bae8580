import KibanKernels

// Dim legend: N rows (all leading axes together), K input features, D output features.

extension Tensor {
    /// y ≈ x Wᵀ + b in W8A8 int8 arithmetic, for inference.
    ///
    /// Each row of x is quantised at run time with its own symmetric scale (max|x[n, :]| / 127,
    /// `kb_quantize_rows_int8`), multiplied by the int8 weight with int32 accumulation
    /// (`kb_int8_gemm`: AVX-512 VNNI where the CPU has it, else the scalar path), and dequantised
    /// with both scales before the float bias is added. Rows are split over ``Threading``'s threads.
    ///
    /// Nothing is recorded on the tape, so this stops with an error when a gradient would be needed
    /// (x or the bias requires one while ``GradMode`` is on): run it inside ``withNoGrad(_:)``.
    ///
    /// x: (…, K); weight: (D, K) packed; bias: (D) or nil → (…, D).
    public static func int8Linear(_ x: Tensor, weight: Int8Weight, bias: Tensor?) -> Tensor {
        let (outputs, inputs) = (weight.outputs, weight.inputs)
        tensorCheck(
            x.rank >= 1 && x.shape[x.rank - 1] == inputs, "int8 linear",
            "input \(describeShape(x.shape)) for an int8 weight of shape \(describeShape([outputs, inputs])); expected (…, \(inputs))")
        tensorCheck(
            bias == nil || bias!.shape == [outputs], "int8 linear",
            "bias \(describeShape(bias?.shape ?? [])) for an int8 weight of shape \(describeShape([outputs, inputs]))")
        tensorCheck(
            !GradMode.isEnabled || !(x.requiresGrad || bias?.requiresGrad == true), "int8 linear",
            "int8 layers are inference-only and cannot pass gradients; run them inside withNoGrad { } (or dequantise the model to train it)")
        let rows = x.count / inputs
        let input = x.contiguousWithoutTape(), biasValues = bias?.contiguousWithoutTape()
        let output = Tensor.empty(Array(x.shape.dropLast()) + [outputs])
        withExtendedLifetime((input, biasValues, weight)) {
            let (source, target, biasPointer) = (input.pointer, output.pointer, biasValues.map { UnsafePointer($0.pointer) })
            Threading.parallelFor(rows, minimumPerTask: 32) { range in
                let count = range.count
                let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: count * inputs)
                let scales = UnsafeMutablePointer<Float>.allocate(capacity: count)
                defer {
                    quantized.deallocate()
                    scales.deallocate()
                }
                kb_quantize_rows_int8(source + range.lowerBound * inputs, quantized, scales, count, inputs)
                weight.scales.withUnsafeBufferPointer { weightScales in
                    kb_int8_gemm(
                        quantized, scales, weight.packed, weightScales.baseAddress, biasPointer,
                        target + range.lowerBound * outputs, count, outputs, inputs)
                }
            }
        }
        return output
    }
}
