import KibanNN
import KibanTensor

// Dim legend: B batch, T tokens, C hidden size, V vocabulary. Module and key names follow
// Hugging Face `modeling_bert.py`, so `namedParameters()` equals its state-dict keys.

/// Word + position + token-type embeddings, then LayerNorm and dropout.
public final class BertEmbeddings: Module {
    public let wordEmbeddings: Embedding, positionEmbeddings: Embedding, tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    let dropout: Dropout

    init(_ config: BertConfig, generator: RandomGenerator) {
        let initialization = Initialization.normal(std: config.initializerRange)
        wordEmbeddings = Embedding(config.vocabularySize, config.hiddenSize, initialization: initialization, generator: generator)
        positionEmbeddings = Embedding(config.maximumPositions, config.hiddenSize, initialization: initialization, generator: generator)
        tokenTypeEmbeddings = Embedding(config.typeVocabularySize, config.hiddenSize, initialization: initialization, generator: generator)
        layerNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        dropout = Dropout(config.hiddenDropout, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
         ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm), ("dropout", dropout)]
    }

    /// ids, tokenTypes: (B, T) → (B, T, C).
    func callAsFunction(_ ids: IndexTensor, tokenTypes: IndexTensor?) -> Tensor {
        let (batch, tokens) = (ids.shape[0], ids.shape[1])
        tensorCheck(
            tokens <= positionEmbeddings.weight.shape[0], "bert",
            "\(tokens) tokens exceed max_position_embeddings \(positionEmbeddings.weight.shape[0])")
        let positions = positionEmbeddings(IndexTensor(shape: [1, tokens], values: Array(0..<tokens)))
        let types = tokenTypeEmbeddings(tokenTypes ?? IndexTensor(shape: [batch, tokens], values: Array(repeating: 0, count: batch * tokens)))
        return dropout(layerNorm(wordEmbeddings(ids) + positions + types))
    }
}

/// A dense projection, dropout, residual and LayerNorm (`attention.output` and `output`).
public final class BertResidualOutput: Module {
    public let dense: Linear, layerNorm: LayerNorm
    let dropout: Dropout

    init(_ inFeatures: Int, _ config: BertConfig, generator: RandomGenerator) {
        dense = Linear(inFeatures, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        layerNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        dropout = Dropout(config.hiddenDropout, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("dense", dense), ("LayerNorm", layerNorm), ("dropout", dropout)]
    }

    /// LayerNorm(dropout(dense(x)) + residual).
    func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor {
        layerNorm(dropout.isActive ? dropout(dense(x)) + residual : dense(x, adding: residual))
    }
}

/// One post-norm encoder layer.
public final class BertLayer: Module {
    public let selfAttention: QueryKeyValue, attentionOutput: BertResidualOutput
    public let intermediate: Linear, output: BertResidualOutput
    let heads: Int
    let activation: GELUApproximation
    let attentionDropout: Float
    let generator: RandomGenerator

    init(_ config: BertConfig, generator: RandomGenerator) {
        selfAttention = QueryKeyValue(width: config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        attentionOutput = BertResidualOutput(config.hiddenSize, config, generator: generator)
        intermediate = Linear(config.hiddenSize, config.intermediateSize, initialization: .normal(std: config.initializerRange), generator: generator)
        output = BertResidualOutput(config.intermediateSize, config, generator: generator)
        heads = config.headCount
        attentionDropout = config.attentionDropout
        self.generator = generator
        activation = config.hiddenActivation == "gelu_new" || config.hiddenActivation == "gelu_pytorch_tanh" ? .tanh : .none
    }

    override public var children: [(key: String, module: Module)] {
        [("attention.self", selfAttention), ("attention.output", attentionOutput),
         ("intermediate.dense", intermediate), ("output", output)]
    }

    /// x: (B, T, C); keyPaddingMask: (B, T) of 1/0 → (B, T, C).
    func callAsFunction(_ x: Tensor, keyPaddingMask: Tensor?) -> Tensor {
        let attended = MultiHeadAttention.attend(
            query: selfAttention.query(x), key: selfAttention.key(x), value: selfAttention.value(x),
            heads: heads, keyValueHeads: heads, rotary: nil, keyPaddingMask: keyPaddingMask, causal: false,
            dropout: isTraining ? (attentionDropout, generator) : nil)
        let hidden = attentionOutput(attended, residual: x)
        return output(intermediate.gelu(hidden, approximation: activation), residual: hidden)
    }
}

/// The BERT encoder stack: embeddings and `encoder.layer.N`, plus an optional pooler.
public final class BertModel: Module {
    public let config: BertConfig
    public let embeddings: BertEmbeddings
    public let layers: [BertLayer]
    /// Dense + tanh on the first token; absent in `BertForMaskedLM`.
    public let pooler: Linear?

    public init(_ config: BertConfig, pooling: Bool = true, generator: RandomGenerator) {
        self.config = config
        embeddings = BertEmbeddings(config, generator: generator)
        layers = (0..<config.layerCount).map { _ in BertLayer(config, generator: generator) }
        pooler = pooling
            ? Linear(config.hiddenSize, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator) : nil
    }

    override public var children: [(key: String, module: Module)] {
        [("embeddings", embeddings)] + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element) }
            + (pooler.map { [("pooler.dense", $0)] } ?? [])
    }

    /// ids: (B, T); attentionMask: (B, T) of 1/0 → hidden states (B, T, C).
    public func callAsFunction(_ ids: IndexTensor, attentionMask: Tensor? = nil, tokenTypes: IndexTensor? = nil) -> Tensor {
        var hidden = embeddings(ids, tokenTypes: tokenTypes)
        for layer in layers { hidden = layer(hidden, keyPaddingMask: attentionMask) }
        return hidden
    }

    /// tanh(dense(h[:, 0])): (B, T, C) → (B, C).
    public func pooled(_ hidden: Tensor) -> Tensor {
        guard let pooler else { tensorFailure("bert", "this BertModel was built without a pooler") }
        return pooler(hidden.sliced(axis: 1, 0..<1).squeezed(1)).tanh()
    }
}

/// `BertForMaskedLM`: the encoder plus the prediction head whose decoder is tied to the word embeddings.
public final class BertForMaskedLM: Module {
    public let bert: BertModel
    public let transform: Linear, transformNorm: LayerNorm
    /// The decoder's bias (`cls.predictions.bias`, also saved as `cls.predictions.decoder.bias`).
    public let bias: Parameter
    let activation: GELUApproximation

    public init(_ config: BertConfig, generator: RandomGenerator) {
        bert = BertModel(config, pooling: false, generator: generator)
        transform = Linear(config.hiddenSize, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        transformNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        bias = Parameter(Tensor.zeros([config.vocabularySize]), decays: false)
        activation = config.hiddenActivation == "gelu_new" || config.hiddenActivation == "gelu_pytorch_tanh" ? .tanh : .none
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] {
        [("cls.predictions.bias", bias), ("cls.predictions.decoder.weight", bert.embeddings.wordEmbeddings.weight),
         ("cls.predictions.decoder.bias", bias)]
    }

    override public var children: [(key: String, module: Module)] {
        [("bert", bert), ("cls.predictions.transform.dense", transform), ("cls.predictions.transform.LayerNorm", transformNorm)]
    }

    override public var tiedWeightKeys: [String: String] {
        ["cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.bias": "cls.predictions.bias"]
    }

    /// ids: (B, T) → logits (B, T, V).
    public func callAsFunction(_ ids: IndexTensor, attentionMask: Tensor? = nil, tokenTypes: IndexTensor? = nil) -> Tensor {
        logits(fromHidden: bert(ids, attentionMask: attentionMask, tokenTypes: tokenTypes))
    }
}

/// `BertForSequenceClassification`: pooled first token, dropout, a linear classifier.
public final class BertForSequenceClassification: Module {
    public let bert: BertModel
    public let classifier: Linear
    let dropout: Dropout

    public init(_ config: BertConfig, generator: RandomGenerator) {
        bert = BertModel(config, pooling: true, generator: generator)
        classifier = Linear(config.hiddenSize, config.labelCount, initialization: .normal(std: config.initializerRange), generator: generator)
        dropout = Dropout(config.hiddenDropout, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("bert", bert), ("dropout", dropout), ("classifier", classifier)]
    }

    /// ids: (B, T) → logits (B, labels).
    public func callAsFunction(_ ids: IndexTensor, attentionMask: Tensor? = nil, tokenTypes: IndexTensor? = nil) -> Tensor {
        let hidden = bert(ids, attentionMask: attentionMask, tokenTypes: tokenTypes)
        return head(hidden)
    }

    /// The classifier on the encoder's last hidden state (B, T, C) → (B, L).
    public func head(_ hidden: Tensor) -> Tensor {
        classifier(dropout(bert.pooled(hidden)))
    }
}
