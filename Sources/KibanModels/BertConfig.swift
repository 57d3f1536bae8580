/// BERT hyper-parameters; field names map one-to-one onto Hugging Face `config.json`
/// (`vocab_size`, `hidden_size`, …). Missing fields take `BertConfig()`'s defaults.
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabularySize = 30522
    public var hiddenSize = 768
    public var layerCount = 12
    public var headCount = 12
    public var intermediateSize = 3072
    public var hiddenActivation = "gelu"
    public var hiddenDropout: Float = 0.1
    public var attentionDropout: Float = 0.1
    public var maximumPositions = 512
    public var typeVocabularySize = 2
    public var initializerRange: Float = 0.02
    public var layerNormEpsilon: Float = 1e-12
    public var padTokenID = 0
    /// Labels of a sequence-classification head.
    public var labelCount = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", intermediateSize = "intermediate_size", hiddenActivation = "hidden_act"
        case hiddenDropout = "hidden_dropout_prob", attentionDropout = "attention_probs_dropout_prob"
        case maximumPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case initializerRange = "initializer_range", layerNormEpsilon = "layer_norm_eps", padTokenID = "pad_token_id"
        case labelCount = "num_labels"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BertConfig()
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? d.vocabularySize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? d.layerCount
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? d.headCount
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? d.hiddenActivation
        hiddenDropout = try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? d.hiddenDropout
        attentionDropout = try c.decodeIfPresent(Float.self, forKey: .attentionDropout) ?? d.attentionDropout
        maximumPositions = try c.decodeIfPresent(Int.self, forKey: .maximumPositions) ?? d.maximumPositions
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? d.typeVocabularySize
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? d.initializerRange
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        padTokenID = try c.decodeIfPresent(Int.self, forKey: .padTokenID) ?? d.padTokenID
        labelCount = try c.decodeIfPresent(Int.self, forKey: .labelCount) ?? d.labelCount
        try ModelConfigCheck.positive(["hidden_size": hiddenSize, "num_attention_heads": headCount, "vocab_size": vocabularySize])
        try ModelConfigCheck.divisible(hiddenSize, by: headCount, "hidden_size", "num_attention_heads")
    }
}

/// Validation shared by the model configs; errors name the offending key.
enum ModelConfigCheck {
    struct InvalidConfig: Error, CustomStringConvertible {
        let description: String
    }

    static func positive(_ values: [String: Int]) throws {
        for (key, value) in values.sorted(by: { $0.key < $1.key }) where value <= 0 {
            throw InvalidConfig(description: "config key '\(key)' must be positive, got \(value)")
        }
    }

    static func divisible(_ value: Int, by divisor: Int, _ key: String, _ divisorKey: String) throws {
        guard divisor > 0, value % divisor == 0 else {
            throw InvalidConfig(description: "config key '\(key)' (\(value)) must be divisible by '\(divisorKey)' (\(divisor))")
        }
    }
}
