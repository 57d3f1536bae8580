import KibanTensor

// Dim legend: B batch, T sequence tokens, S modality tokens, C model width, F feed-forward width.

/// Flamingo's gated cross-attention block, inserted after a layer of a frozen model so a new
/// modality can flow in: h = x + tanh(α)·attn(norm(x), modality); out = h + tanh(β)·mlp(norm(h)).
/// Both gates start at zero, so until training opens them the block returns its input exactly
/// and the frozen model's outputs are unchanged (Evolla's `EvollaSequenceAlignerCrossAttention`
/// has the same shape).
public final class GatedCrossAttention: Module {
    public let attention: AttentionProjections, attentionNorm: LayerNorm
    public let mlp: FeedForward, mlpNorm: LayerNorm
    /// The tanh gates of the attention and the feed-forward branch (scalars, initialised to 0).
    public let attentionGate: Parameter, mlpGate: Parameter

    public init(width: Int, heads: Int, feedForward: Int, initialization: Initialization = .normal(std: 0.02), generator: RandomGenerator) {
        attention = AttentionProjections(width: width, heads: heads, initialization: initialization, generator: generator)
        attentionNorm = LayerNorm(width)
        mlp = FeedForward(width: width, hidden: feedForward, kind: .gelu, initialization: initialization, generator: generator)
        mlpNorm = LayerNorm(width)
        attentionGate = Parameter(Tensor.zeros([1]), decays: false)
        mlpGate = Parameter(Tensor.zeros([1]), decays: false)
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] {
        [("attention_gate", attentionGate), ("mlp_gate", mlpGate)]
    }

    override public var children: [(key: String, module: Module)] {
        [("attention", attention), ("attention_norm", attentionNorm), ("mlp", mlp), ("mlp_norm", mlpNorm)]
    }

    /// x: (B, T, C) attends to `modality` (B, S, C), whose padded tokens `modalityMask` (B, S) marks
    /// with 0 → (B, T, C).
    public func callAsFunction(_ x: Tensor, modality: Tensor, modalityMask: Tensor? = nil) -> Tensor {
        let attended = attention(attentionNorm(x), source: modality, keyPaddingMask: modalityMask)
        let hidden = x + attended * attentionGate.value.tanh()
        return hidden + mlp(mlpNorm(hidden)) * mlpGate.value.tanh()
    }
}

/// Flamingo's perceiver resampler (Evolla's `EvollaSequenceCompressorResampler`): K learned latents
/// attend to a modality sequence of any length, through `depth` blocks of
/// latents += attn(norm(latents), [modality; latents]); latents += mlp(norm(latents)),
/// so a long sequence (a structure's residues, a spectrum's patches) becomes K tokens.
public final class PerceiverResampler: Module {
    public let latents: Parameter
    public let blocks: [(attention: AttentionProjections, norm: LayerNorm, mediaNorm: LayerNorm, mlp: FeedForward, mlpNorm: LayerNorm)]
    public let outputNorm: LayerNorm

    public init(width: Int, latents count: Int, heads: Int, depth: Int, feedForward: Int, generator: RandomGenerator) {
        latents = Parameter(Tensor.randn([count, width], scale: 0.02, generator: generator))
        blocks = (0..<depth).map { _ in
            (AttentionProjections(width: width, heads: heads, initialization: .normal(std: 0.02), generator: generator), LayerNorm(width),
             LayerNorm(width), FeedForward(width: width, hidden: feedForward, kind: .gelu, initialization: .normal(std: 0.02), generator: generator),
             LayerNorm(width))
        }
        outputNorm = LayerNorm(width)
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("latents", latents)] }

    override public var children: [(key: String, module: Module)] {
        blocks.enumerated().flatMap { index, block in
            [("layers.\(index).attention", block.attention as Module), ("layers.\(index).norm", block.norm),
             ("layers.\(index).media_norm", block.mediaNorm), ("layers.\(index).mlp", block.mlp), ("layers.\(index).mlp_norm", block.mlpNorm)]
        } + [("norm", outputNorm)]
    }

    /// modality: (B, S, C), mask (B, S) of 1/0 or nil → (B, K, C).
    public func callAsFunction(_ modality: Tensor, mask: Tensor? = nil) -> Tensor {
        let (batch, width, count) = (modality.shape[0], modality.shape[2], latents.shape[0])
        var hidden = latents.value.unsqueezed(0).expanded(to: [batch, count, width])
        let keep = Tensor.concatenate([mask ?? Tensor.ones([batch, modality.shape[1]]), Tensor.ones([batch, count])], axis: 1)
        for block in blocks {
            let source = Tensor.concatenate([block.mediaNorm(modality), block.norm(hidden)], axis: 1)  // (B, S + K, C)
            hidden = hidden + block.attention(block.norm(hidden), source: source, keyPaddingMask: keep)
            hidden = hidden + block.mlp(block.mlpNorm(hidden))
        }
        return outputNorm(hidden)
    }
}
