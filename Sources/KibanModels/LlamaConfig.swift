/// Llama hyper-parameters; field names map one-to-one onto Hugging Face `config.json`
/// (`rope_theta` is read at the top level or from `rope_parameters`, as transformers 5 writes it).
public struct LlamaConfig: Codable, Equatable, Sendable {
    public var vocabularySize = 32000
    public var hiddenSize = 4096
    public var intermediateSize = 11008
    public var layerCount = 32
    public var headCount = 32
    public var keyValueHeadCount = 32
    public var maximumPositions = 2048
    public var rmsNormEpsilon: Float = 1e-6
    public var ropeTheta: Float = 10_000
    public var tieWordEmbeddings = false
    public var attentionBias = false
    public var mlpBias = false
    public var initializerRange: Float = 0.02

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers", headCount = "num_attention_heads", keyValueHeadCount = "num_key_value_heads"
        case maximumPositions = "max_position_embeddings", rmsNormEpsilon = "rms_norm_eps", ropeTheta = "rope_theta"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case initializerRange = "initializer_range"
    }

    /// transformers 5 nests `rope_theta` under `rope_parameters`; read-only here.
    private enum NestedKeys: String, CodingKey {
        case ropeParameters = "rope_parameters"
    }

    struct RopeParameters: Codable {
        var ropeTheta: Float?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta" }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LlamaConfig()
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? d.vocabularySize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? d.layerCount
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? d.headCount
        keyValueHeadCount = try c.decodeIfPresent(Int.self, forKey: .keyValueHeadCount) ?? headCount
        maximumPositions = try c.decodeIfPresent(Int.self, forKey: .maximumPositions) ?? d.maximumPositions
        rmsNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .rmsNormEpsilon) ?? d.rmsNormEpsilon
        let nested = try decoder.container(keyedBy: NestedKeys.self)
            .decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)?.ropeTheta
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? nested ?? d.ropeTheta
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? d.tieWordEmbeddings
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? d.attentionBias
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? d.mlpBias
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? d.initializerRange
        try ModelConfigCheck.positive([
            "hidden_size": hiddenSize, "num_attention_heads": headCount, "num_key_value_heads": keyValueHeadCount,
            "vocab_size": vocabularySize,
        ])
        try ModelConfigCheck.divisible(hiddenSize, by: headCount, "hidden_size", "num_attention_heads")
        try ModelConfigCheck.divisible(headCount, by: keyValueHeadCount, "num_attention_heads", "num_key_value_heads")
    }
}
