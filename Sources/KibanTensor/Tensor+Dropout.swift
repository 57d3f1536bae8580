extension Tensor {
    /// Inverted dropout: zeroes each element with probability `probability` and scales the rest
    /// by 1/(1 − p), drawing the mask from `generator`. Identity when `training` is false or p is 0.
    public func dropout(probability: Float, generator: RandomGenerator, training: Bool = true) -> Tensor {
        tensorCheck(
            probability >= 0 && probability < 1, "dropout", "probability \(probability) is not in [0, 1)")
        guard training && probability > 0 else { return self }
        let scale = 1 / (1 - probability)
        let mask = Tensor.empty(shape)
        for i in 0..<count { mask.pointer[i] = generator.uniform() < probability ? 0 : scale }
        let output = Elementwise.zip(self, mask, op: "dropout", *)
        return Tensor.record("dropout", inputs: [self], output: output) { gradient in [gradient * mask] }
    }
}
