import KibanNN
import KibanTensor

// Dim legend: B batch, T new tokens, C hidden size, I intermediate size, V vocabulary.
// Names follow Hugging Face `modeling_llama.py`.

/// Grouped-query self-attention with rotary positions (`self_attn`).
public final class LlamaAttention: Module {
    public let queryProjection: Linear, keyProjection: Linear, valueProjection: Linear, outputProjection: Linear
    let heads: Int, keyValueHeads: Int
    let rotary: RotaryEmbedding

    init(_ config: LlamaConfig, generator: RandomGenerator) {
        let initialization = Initialization.normal(std: config.initializerRange)
        let headWidth = config.hiddenSize / config.headCount
        let keyValueWidth = headWidth * config.keyValueHeadCount
        queryProjection = Linear(config.hiddenSize, config.hiddenSize, bias: config.attentionBias, initialization: initialization, generator: generator)
        keyProjection = Linear(config.hiddenSize, keyValueWidth, bias: config.attentionBias, initialization: initialization, generator: generator)
        valueProjection = Linear(config.hiddenSize, keyValueWidth, bias: config.attentionBias, initialization: initialization, generator: generator)
        outputProjection = Linear(config.hiddenSize, config.hiddenSize, bias: config.attentionBias, initialization: initialization, generator: generator)
        (heads, keyValueHeads) = (config.headCount, config.keyValueHeadCount)
        rotary = RotaryEmbedding(headDimension: headWidth, base: config.ropeTheta)
    }

    override public var children: [(key: String, module: Module)] {
        [("q_proj", queryProjection), ("k_proj", keyProjection), ("v_proj", valueProjection), ("o_proj", outputProjection)]
    }

    /// x: (B, T, C) → (B, T, C); causal over the cached positions plus the new ones.
    func callAsFunction(_ x: Tensor, cache: KeyValueCache?, layer: Int) -> Tensor {
        let attended = MultiHeadAttention.attend(
            query: queryProjection(x), key: keyProjection(x), value: valueProjection(x), heads: heads,
            keyValueHeads: keyValueHeads, rotary: rotary, keyPaddingMask: nil, causal: true, cache: cache, layer: layer)
        return outputProjection(attended)
    }
}

/// SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).
public final class LlamaMLP: Module {
    public let gateProjection: Linear, upProjection: Linear, downProjection: Linear

    init(_ config: LlamaConfig, generator: RandomGenerator) {
        let initialization = Initialization.normal(std: config.initializerRange)
        gateProjection = Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias, initialization: initialization, generator: generator)
        upProjection = Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias, initialization: initialization, generator: generator)
        downProjection = Linear(config.intermediateSize, config.hiddenSize, bias: config.mlpBias, initialization: initialization, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("gate_proj", gateProjection), ("up_proj", upProjection), ("down_proj", downProjection)]
    }

    /// x: (B, T, C) → (B, T, C).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let gate = gateProjection(x)
        return downProjection(gate * gate.sigmoid() * upProjection(x))
    }
}

/// One pre-norm decoder layer with RMSNorm.
public final class LlamaDecoderLayer: Module {
    public let inputNorm: RMSNorm, attention: LlamaAttention, postAttentionNorm: RMSNorm, mlp: LlamaMLP

    init(_ config: LlamaConfig, generator: RandomGenerator) {
        inputNorm = RMSNorm(config.hiddenSize, epsilon: config.rmsNormEpsilon)
        attention = LlamaAttention(config, generator: generator)
        postAttentionNorm = RMSNorm(config.hiddenSize, epsilon: config.rmsNormEpsilon)
        mlp = LlamaMLP(config, generator: generator)
    }

    override public var children: [(key: String, module: Module)] {
        [("input_layernorm", inputNorm), ("self_attn", attention), ("post_attention_layernorm", postAttentionNorm), ("mlp", mlp)]
    }

    func callAsFunction(_ x: Tensor, cache: KeyValueCache?, layer: Int) -> Tensor {
        let hidden = x + attention(inputNorm(x), cache: cache, layer: layer)
        return hidden + mlp(postAttentionNorm(hidden))
    }
}

/// `LlamaForCausalLM`: embeddings, decoder layers, final RMSNorm and the LM head.
public final class LlamaForCausalLM: Module {
    public let config: LlamaConfig
    public let embedTokens: Embedding
    public let layers: [LlamaDecoderLayer]
    public let norm: RMSNorm
    /// The output projection; the embedding table itself when `tie_word_embeddings` is set.
    public let lmHead: Parameter

    public init(_ config: LlamaConfig, generator: RandomGenerator) {
        self.config = config
        embedTokens = Embedding(config.vocabularySize, config.hiddenSize, initialization: .normal(std: config.initializerRange), generator: generator)
        layers = (0..<config.layerCount).map { _ in LlamaDecoderLayer(config, generator: generator) }
        norm = RMSNorm(config.hiddenSize, epsilon: config.rmsNormEpsilon)
        lmHead = config.tieWordEmbeddings
            ? embedTokens.weight
            : Parameter(Tensor.randn([config.vocabularySize, config.hiddenSize], scale: config.initializerRange, generator: generator))
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("lm_head.weight", lmHead)] }

    /// The output projection is an alias only when it is the embedding table (``tiedAliases()`` checks).
    override public var tiedWeightKeys: [String: String] { ["lm_head.weight": "model.embed_tokens.weight"] }

    override public var children: [(key: String, module: Module)] {
        [("model.embed_tokens", embedTokens)] + layers.enumerated().map { ("model.layers.\($0.offset)", $0.element) }
            + [("model.norm", norm)]
    }

    /// ids: (B, T) → logits (B, T, V). With a cache, `ids` are the new tokens only and the
    /// cache grows by T positions.
    public func callAsFunction(_ ids: IndexTensor, cache: KeyValueCache? = nil) -> Tensor {
        var hidden = embedTokens(ids)
        for (index, layer) in layers.enumerated() { hidden = layer(hidden, cache: cache, layer: index) }
        return norm(hidden).matmul(lmHead.value.transposed())
    }
}
