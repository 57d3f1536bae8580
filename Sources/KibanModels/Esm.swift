import KibanNN
import KibanTensor

// Dim legend: B batch, T tokens, C hidden size, V vocabulary (33 for ESM-2). Names follow
// Hugging Face `modeling_esm.py`.

/// One pre-norm ESM-2 layer: x + attn(LN(x)), then h + MLP(LN(h)) with GELU (erf).
public final class EsmLayer: Module {
    public let attentionNorm: LayerNorm, selfAttention: QueryKeyValue, attentionOutput: Linear
    public let mlpNorm: LayerNorm, intermediate: Linear, output: Linear
    /// Attention heads this layer computes (all of them, or this rank's under tensor parallelism).
    var heads: Int
    /// Set by ``EsmModel/shard(over:)``: the group this layer's split weights are spread over.
    var tensorParallel: TensorParallelGroup?
    let dropout: Dropout
    let attentionDropout: Float
    let generator: RandomGenerator

    init(_ config: EsmConfig, generator: RandomGenerator) {
        let initialization = Initialization.normal(std: config.initializerRange)
        attentionNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        selfAttention = QueryKeyValue(width: config.hiddenSize, initialization: initialization, generator: generator)
        attentionOutput = Linear(config.hiddenSize, config.hiddenSize, initialization: initialization, generator: generator)
        mlpNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        intermediate = Linear(config.hiddenSize, config.intermediateSize, initialization: initialization, generator: generator)
        output = Linear(config.intermediateSize, config.hiddenSize, initialization: initialization, generator: generator)
        heads = config.headCount
        dropout = Dropout(config.hiddenDropout, generator: generator)
        attentionDropout = config.attentionDropout
        self.generator = generator
    }

    override public var children: [(key: String, module: Module)] {
        [("attention.LayerNorm", attentionNorm), ("attention.self", selfAttention), ("attention.output.dense", attentionOutput),
         ("LayerNorm", mlpNorm), ("intermediate.dense", intermediate), ("output.dense", output), ("dropout", dropout)]
    }

    /// x: (B, T, C) → (B, T, C); with `packing`, x is one (1, N, C) row of packed sequences.
    func callAsFunction(_ x: Tensor, keyPaddingMask: Tensor?, rotary: RotaryEmbedding, packing: SequencePacking? = nil) -> Tensor {
        if let tensorParallel { return split(x, over: tensorParallel, keyPaddingMask: keyPaddingMask, rotary: rotary, packing: packing) }
        let normed = attentionNorm(x)
        let attended = MultiHeadAttention.attend(
            query: selfAttention.query(normed), key: selfAttention.key(normed), value: selfAttention.value(normed),
            heads: heads, keyValueHeads: heads, rotary: rotary, keyPaddingMask: keyPaddingMask, causal: false,
            dropout: isTraining ? (attentionDropout, generator) : nil, packing: packing)
        let hidden = dropout.isActive ? x + dropout(attentionOutput(attended)) : attentionOutput(attended, adding: x)
        let inner = intermediate.gelu(mlpNorm(hidden))
        return dropout.isActive ? hidden + dropout(output(inner)) : output(inner, adding: hidden)
    }
}

/// The ESM-2 encoder (`esm.*`): embeddings with token-dropout rescaling, rotary layers, final LayerNorm.
public final class EsmModel: Module {
    public let config: EsmConfig
    public let wordEmbeddings: Embedding
    public let layers: [EsmLayer]
    public let finalNorm: LayerNorm
    /// The contact-prediction regression of `EsmModel` (layers·heads → 1); kept so checkpoints
    /// round-trip, unused by the masked-LM forward pass.
    public let contactRegression: Linear
    /// Rotary inverse frequencies, saved in checkpoints as a (frozen) buffer.
    public let rotaryInverseFrequencies: Parameter
    let rotary: RotaryEmbedding
    /// Set by ``shard(over:)``: the group the word embeddings are split over (by vocabulary).
    var tensorParallel: TensorParallelGroup?

    public init(_ config: EsmConfig, generator: RandomGenerator) {
        self.config = config
        wordEmbeddings = Embedding(config.vocabularySize, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        layers = (0..<config.layerCount).map { _ in EsmLayer(config, generator: generator) }
        finalNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        contactRegression = Linear(config.layerCount * config.headCount, 1, initialization: .uniformFanIn, generator: generator)
        rotary = RotaryEmbedding(headDimension: config.hiddenSize / config.headCount, base: config.ropeTheta)
        rotaryInverseFrequencies = Parameter.buffer(rotary.inverseFrequencies())
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] {
        [("rotary_embeddings.inv_freq", rotaryInverseFrequencies)]
    }

    override public var children: [(key: String, module: Module)] {
        [("embeddings.word_embeddings", wordEmbeddings)]
            + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element) }
            + [("encoder.emb_layer_norm_after", finalNorm), ("contact_head.regression", contactRegression)]
    }

    /// ids: (B, T); attentionMask: (B, T) of 1/0 → hidden states (B, T, C).
    public func callAsFunction(_ ids: IndexTensor, attentionMask: Tensor? = nil) -> Tensor {
        let (batch, tokens) = (ids.shape[0], ids.shape[1])
        let mask = attentionMask ?? Tensor.ones([batch, tokens])
        var hidden = embed(ids)
        if config.tokenDropout { hidden = tokenDropoutRescaled(hidden, ids: ids, mask: mask) }
        hidden = hidden * mask.unsqueezed(-1)
        for layer in layers { hidden = layer(hidden, keyPaddingMask: mask, rotary: rotary) }
        return finalNorm(hidden)
    }

    /// ids: (1, N), sequences packed back to back as `packing` says, with no padding → hidden states
    /// (1, N, C); each sequence's rows are what it gets alone.
    public func callAsFunction(packed ids: IndexTensor, packing: SequencePacking) -> Tensor {
        var hidden = packedEmbeddings(ids, packing: packing)
        for layer in layers { hidden = layer(hidden, keyPaddingMask: nil, rotary: rotary, packing: packing) }
        return finalNorm(hidden)
    }

    /// Word embeddings of a packed row, token-dropout rescaled per sequence: (1, N, C).
    func packedEmbeddings(_ ids: IndexTensor, packing: SequencePacking) -> Tensor {
        tensorCheck(
            ids.shape == [1, packing.tokens], "esm", "packed ids \(describeShape(ids.shape)) for \(packing.tokens) packed tokens")
        let embeddings = embed(ids)
        guard config.tokenDropout else { return embeddings }
        let isMask = ids.values.map { $0 == config.maskTokenID ? Float(1) : 0 }
        var scales = [Float]()
        scales.reserveCapacity(packing.tokens)
        for index in 0..<packing.count {
            let tokens = packing.range(index)
            let scale = tokenDropoutScale(masked: isMask[tokens].reduce(0, +), real: Float(tokens.count))
            scales += repeatElement(scale, count: tokens.count)
        }
        let zeroed = embeddings.maskedFill(Tensor(shape: [1, packing.tokens, 1], values: isMask), value: 0)
        return zeroed * Tensor(shape: [1, packing.tokens, 1], values: scales)
    }

    /// Zeroes `<mask>` embeddings and scales each row by ``tokenDropoutScale(masked:real:)``.
    func tokenDropoutRescaled(_ embeddings: Tensor, ids: IndexTensor, mask: Tensor) -> Tensor {
        let (batch, tokens) = (ids.shape[0], ids.shape[1])
        let isMask = ids.values.map { $0 == config.maskTokenID ? Float(1) : 0 }
        let realTokens = mask.summed(axes: [1]).toArray()
        let scales = (0..<batch).map { row -> Float in
            tokenDropoutScale(masked: isMask[(row * tokens)..<((row + 1) * tokens)].reduce(0, +), real: realTokens[row])
        }
        let zeroed = embeddings.maskedFill(Tensor(shape: [batch, tokens, 1], values: isMask), value: 0)
        return zeroed * Tensor(shape: [batch, 1, 1], values: scales)
    }

    /// ESM-2's token-dropout factor of a sequence: 0.88 / (1 − masked / real tokens).
    private func tokenDropoutScale(masked: Float, real: Float) -> Float {
        (1 - 0.15 * 0.8) / (1 - masked / real)
    }
}

/// `EsmForMaskedLM`: the encoder plus dense → GELU → LayerNorm → tied decoder + bias.
public final class EsmForMaskedLM: Module {
    public let esm: EsmModel
    public let dense: Linear, layerNorm: LayerNorm
    public let bias: Parameter

    public init(_ config: EsmConfig, generator: RandomGenerator) {
        esm = EsmModel(config, generator: generator)
        dense = Linear(config.hiddenSize, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        layerNorm = LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon)
        bias = Parameter(Tensor.zeros([config.vocabularySize]), decays: false)
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] {
        [("lm_head.bias", bias), ("lm_head.decoder.weight", esm.wordEmbeddings.weight)]
    }

    override public var children: [(key: String, module: Module)] {
        [("esm", esm), ("lm_head.dense", dense), ("lm_head.layer_norm", layerNorm)]
    }

    override public var tiedWeightKeys: [String: String] { ["lm_head.decoder.weight": "esm.embeddings.word_embeddings.weight"] }

    /// ids: (B, T) → logits (B, T, V) (this rank's vocabulary slice under tensor parallelism).
    public func callAsFunction(_ ids: IndexTensor, attentionMask: Tensor? = nil) -> Tensor {
        logits(fromHidden: esm(ids, attentionMask: attentionMask))
    }
}
