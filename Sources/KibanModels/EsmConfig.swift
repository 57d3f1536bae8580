/// ESM-2 hyper-parameters; field names map one-to-one onto Hugging Face `config.json`.
public struct EsmConfig: Codable, Equatable, Sendable {
    public var vocabularySize = 33
    public var maskTokenID = 32
    public var padTokenID = 1
    public var hiddenSize = 320
    public var layerCount = 6
    public var headCount = 20
    public var intermediateSize = 1280
    public var hiddenDropout: Float = 0
    public var attentionDropout: Float = 0
    public var maximumPositions = 1026
    public var initializerRange: Float = 0.02
    public var layerNormEpsilon: Float = 1e-5
    /// "rotary" (ESM-2) or "absolute".
    public var positionEmbeddingType = "rotary"
    public var embeddingLayerNormBefore = false
    /// Zero `<mask>` embeddings and rescale by the observed mask ratio (ESM-2 training convention).
    public var tokenDropout = true
    public var ropeTheta: Float = 10_000

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", maskTokenID = "mask_token_id", padTokenID = "pad_token_id"
        case hiddenSize = "hidden_size", layerCount = "num_hidden_layers", headCount = "num_attention_heads"
        case intermediateSize = "intermediate_size", hiddenDropout = "hidden_dropout_prob"
        case attentionDropout = "attention_probs_dropout_prob", maximumPositions = "max_position_embeddings"
        case initializerRange = "initializer_range", layerNormEpsilon = "layer_norm_eps"
        case positionEmbeddingType = "position_embedding_type", embeddingLayerNormBefore = "emb_layer_norm_before"
        case tokenDropout = "token_dropout", ropeTheta = "rope_theta"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EsmConfig()
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? d.vocabularySize
        maskTokenID = try c.decodeIfPresent(Int.self, forKey: .maskTokenID) ?? d.maskTokenID
        padTokenID = try c.decodeIfPresent(Int.self, forKey: .padTokenID) ?? d.padTokenID
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? d.layerCount
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? d.headCount
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenDropout = try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? d.hiddenDropout
        attentionDropout = try c.decodeIfPresent(Float.self, forKey: .attentionDropout) ?? d.attentionDropout
        maximumPositions = try c.decodeIfPresent(Int.self, forKey: .maximumPositions) ?? d.maximumPositions
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? d.initializerRange
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? d.positionEmbeddingType
        embeddingLayerNormBefore = try c.decodeIfPresent(Bool.self, forKey: .embeddingLayerNormBefore) ?? d.embeddingLayerNormBefore
        tokenDropout = try c.decodeIfPresent(Bool.self, forKey: .tokenDropout) ?? d.tokenDropout
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? d.ropeTheta
        try ModelConfigCheck.positive(["hidden_size": hiddenSize, "num_attention_heads": headCount, "vocab_size": vocabularySize])
        try ModelConfigCheck.divisible(hiddenSize, by: headCount, "hidden_size", "num_attention_heads")
        guard positionEmbeddingType == "rotary" else {
            throw ModelConfigCheck.InvalidConfig(
                description: "config key 'position_embedding_type' is '\(positionEmbeddingType)'; Kiban supports ESM-2's 'rotary'")
        }
        guard !embeddingLayerNormBefore else {
            throw ModelConfigCheck.InvalidConfig(description: "config key 'emb_layer_norm_before' = true (ESM-1b) is not supported")
        }
    }
}
