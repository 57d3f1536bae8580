import KibanKernels

extension Tensor {
    /// Inverted dropout: zeroes each element with probability `probability` and scales the rest
    /// by 1/(1 − p). Identity when `training` is false or p is 0.
    ///
    /// The keep decisions are counter based (`kb_dropout`, the rule of the attention kernel): one
    /// seed drawn from `generator` and each element's index decide, so the mask is made in parallel
    /// pieces and remade in the backward pass rather than stored.
    public func dropout(probability: Float, generator: RandomGenerator, training: Bool = true) -> Tensor {
        tensorCheck(
            probability >= 0 && probability < 1, "dropout", "probability \(probability) is not in [0, 1)")
        guard training && probability > 0 else { return self }
        let seed = generator.next()
        let input = contiguous()
        let output = Tensor.applyDropout(input, probability: probability, seed: seed)
        return Tensor.record("dropout", inputs: [input], output: output) { gradient in
            [Tensor.applyDropout(gradient.contiguousWithoutTape(), probability: probability, seed: seed)]
        }
    }

    /// x with the keep decisions of `seed` applied, split over threads. x: contiguous → x's shape.
    private static func applyDropout(_ x: Tensor, probability: Float, seed: UInt64) -> Tensor {
        let output = Tensor.empty(x.shape)
        withExtendedLifetime(x) {
            let (source, target) = (UnsafePointer(x.pointer), output.pointer)
            Threading.parallelFor(x.count, minimumPerTask: Elementwise.elementsPerTask) { range in
                kb_dropout(source + range.lowerBound, target + range.lowerBound, range.count, seed, UInt64(range.lowerBound), probability)
            }
        }
        return output
    }
}
