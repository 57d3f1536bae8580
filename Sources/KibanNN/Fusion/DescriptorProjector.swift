import KibanTensor

// Dim legend: B examples, D descriptors, K tokens, C model width, H hidden width.

/// LLaVA-style projector tokens from a fixed-length descriptor vector (Magpie statistics of a
/// formula, a peptide's physicochemistry): standardised with the training set's mean and standard
/// deviation (frozen buffers saved with the weights), then Linear → GELU → Linear to K tokens of the
/// model's width, which the model reads beside its own tokens.
public final class DescriptorProjector: Module {
    /// Per-descriptor mean and standard deviation of the training set (frozen).
    public let mean: Parameter, scale: Parameter
    public let hidden: Linear, output: Linear
    public let tokens: Int

    public init(descriptors: Int, width: Int, tokens: Int, hidden: Int, generator: RandomGenerator) {
        mean = Parameter.buffer(Tensor.zeros([descriptors]))
        scale = Parameter.buffer(Tensor.ones([descriptors]))
        self.hidden = Linear(descriptors, hidden, initialization: .uniformFanIn, generator: generator)
        output = Linear(hidden, tokens * width, initialization: .uniformFanIn, generator: generator)
        self.tokens = tokens
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("mean", mean), ("scale", scale)] }

    override public var children: [(key: String, module: Module)] { [("hidden", hidden), ("output", output)] }

    /// Sets the standardisation from the training set's descriptor rows (a constant descriptor keeps scale 1).
    public func standardize(using rows: [[Float]]) {
        guard let width = rows.first?.count, !rows.isEmpty else { return }
        let count = Double(rows.count)
        let means = (0..<width).map { column in rows.reduce(0.0) { $0 + Double($1[column]) } / count }
        let deviations = (0..<width).map { column in
            (rows.reduce(0.0) { $0 + (Double($1[column]) - means[column]) * (Double($1[column]) - means[column]) } / count).squareRoot()
        }
        mean.value = Tensor(shape: [width], values: means.map(Float.init))
        scale.value = Tensor(shape: [width], values: deviations.map { Float($0 > 1e-12 ? $0 : 1) })
    }

    /// features: (B, D) → tokens (B, K, C).
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let standardised = (features - mean.value) / scale.value
        let projected = output(hidden.gelu(standardised))
        return projected.reshaped([features.shape[0], tokens, projected.shape[1] / tokens])
    }
}
