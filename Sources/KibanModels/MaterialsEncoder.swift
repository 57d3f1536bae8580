import Foundation
import KibanNN
import KibanTensor

// Dim legend: B formulas, E element slots per formula (padded), C model width.

/// Hyper-parameters of the composition transformer.
public struct MaterialsEncoderConfig: Codable, Equatable, Sendable {
    public var elementCount = 103
    public var modelWidth = 256
    public var layerCount = 3
    public var headCount = 4
    public var mlpWidth = 1024
    public var layerNormEpsilon: Float = 1e-5
    /// Fractions are multiplied by this before the sinusoidal encoding.
    public var fractionResolution: Float = 100
    /// Number of regression outputs (or classes).
    public var outputCount = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case elementCount = "num_elements", modelWidth = "d_model", layerCount = "num_layers", headCount = "num_heads"
        case mlpWidth = "mlp_width", layerNormEpsilon = "layer_norm_eps", fractionResolution = "fraction_resolution"
        case outputCount = "num_outputs"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MaterialsEncoderConfig()
        elementCount = try c.decodeIfPresent(Int.self, forKey: .elementCount) ?? d.elementCount
        modelWidth = try c.decodeIfPresent(Int.self, forKey: .modelWidth) ?? d.modelWidth
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? d.layerCount
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? d.headCount
        mlpWidth = try c.decodeIfPresent(Int.self, forKey: .mlpWidth) ?? d.mlpWidth
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        fractionResolution = try c.decodeIfPresent(Float.self, forKey: .fractionResolution) ?? d.fractionResolution
        outputCount = try c.decodeIfPresent(Int.self, forKey: .outputCount) ?? d.outputCount
        try ModelConfigCheck.positive(["d_model": modelWidth, "num_heads": headCount, "num_elements": elementCount])
        try ModelConfigCheck.divisible(modelWidth, by: headCount, "d_model", "num_heads")
        try ModelConfigCheck.divisible(modelWidth, by: 2, "d_model", "2")
    }
}

/// A composition transformer for materials (CrabNet/Roost-like): each element of a formula is a
/// token — an element embedding plus a learned projection of a sinusoidal encoding of its
/// fraction — with no positional order; masked mean pooling feeds a linear head.
public final class MaterialsEncoder: Module {
    public let config: MaterialsEncoderConfig
    public let elementEmbedding: Embedding
    public let fractionEncoder: Linear
    /// Post-norm GELU blocks without positional information.
    public let layers: [TransformerBlock]
    public let head: Linear

    public init(_ config: MaterialsEncoderConfig, generator: RandomGenerator) {
        self.config = config
        elementEmbedding = Embedding(config.elementCount, config.modelWidth, initialization: .normal(std: 1), generator: generator)
        fractionEncoder = Linear(config.modelWidth, config.modelWidth, initialization: .uniformFanIn, generator: generator)
        layers = (0..<config.layerCount).map { _ in
            TransformerBlock(
                width: config.modelWidth, heads: config.headCount, feedForward: config.mlpWidth, placement: .post,
                epsilon: config.layerNormEpsilon, initialization: .uniformFanIn, generator: generator)
        }
        head = Linear(config.modelWidth, config.outputCount, initialization: .uniformFanIn, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("element_embedding", elementEmbedding), ("fraction_encoder", fractionEncoder)]
            + layers.enumerated().map { ("layers.\($0.offset)", $0.element) } + [("head", head)]
    }

    /// Initialises element vectors from a per-element table (e.g. mat2vec), row z for atomic number z.
    public func loadElementEmbeddings(_ table: Tensor) {
        withNoGrad { elementEmbedding.weight.value.assign(table) }
    }

    /// elements: (B, E) atomic numbers (0 in padded slots); fractions: (B, E); mask: (B, E) of 1/0
    /// → predictions (B, outputs). `prefix` (B, K, C): extra tokens (an adapter's) that the element
    /// tokens attend to and that attend to them; the pooling stays over the elements. Without it
    /// the model is exactly the base model.
    public func callAsFunction(elements: IndexTensor, fractions: Tensor, mask: Tensor, prefix: Tensor? = nil) -> Tensor {
        var hidden = elementEmbedding(elements) + fractionEncoder(fractionEncoding(fractions))
        var keep = mask
        if let prefix {
            hidden = Tensor.concatenate([prefix, hidden], axis: 1)
            keep = Tensor.concatenate([Tensor.ones([mask.shape[0], prefix.shape[1]]), mask], axis: 1)
        }
        for layer in layers { hidden = layer(hidden, keyPaddingMask: keep) }
        if let prefix { hidden = hidden.sliced(axis: 1, prefix.shape[1]..<hidden.shape[1]) }
        let weights = mask.unsqueezed(-1)
        let pooled = (hidden * weights).summed(axes: [1]) / weights.summed(axes: [1])
        return head(pooled)
    }

    /// Interleaved sin/cos of x = fraction·resolution at frequencies 10000^(−2i/C): (B, E) → (B, E, C).
    func fractionEncoding(_ fractions: Tensor) -> Tensor {
        let width = config.modelWidth
        let values = fractions.toArray()
        var encoding = [Float](repeating: 0, count: values.count * width)
        for (index, fraction) in values.enumerated() {
            let x = Double(fraction) * Double(config.fractionResolution)
            for pair in 0..<(width / 2) {
                let angle = x / Foundation.pow(10_000, Double(2 * pair) / Double(width))
                encoding[index * width + 2 * pair] = Float(Foundation.sin(angle))
                encoding[index * width + 2 * pair + 1] = Float(Foundation.cos(angle))
            }
        }
        return Tensor(shape: fractions.shape + [width], values: encoding)
    }
}
