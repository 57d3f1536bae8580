import KibanTensor

// Dim legend: B batch, T tokens, S key/value tokens, C model width, F feed-forward width.

/// Query, key and value projections under Hugging Face's keys (`attention.self` in BERT and ESM).
public final class QueryKeyValue: Module {
    public let query: Linear, key: Linear, value: Linear

    public init(width: Int, initialization: Initialization, generator: RandomGenerator) {
        query = Linear(width, width, initialization: initialization, generator: generator)
        key = Linear(width, width, initialization: initialization, generator: generator)
        value = Linear(width, width, initialization: initialization, generator: generator)
    }

    override public var children: [(key: String, module: Module)] { [("query", query), ("key", key), ("value", value)] }
}

/// Query, key, value and output projections of a generic attention layer.
public final class AttentionProjections: Module {
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let heads: Int, keyValueHeads: Int

    public init(width: Int, heads: Int, keyValueHeads: Int? = nil, bias: Bool = true, initialization: Initialization, generator: RandomGenerator) {
        let keyValueHeads = keyValueHeads ?? heads
        tensorCheck(
            width % heads == 0 && heads % keyValueHeads == 0, "attention",
            "width \(width), \(heads) heads and \(keyValueHeads) key/value heads do not divide evenly")
        let keyValueWidth = width / heads * keyValueHeads
        query = Linear(width, width, bias: bias, initialization: initialization, generator: generator)
        key = Linear(width, keyValueWidth, bias: bias, initialization: initialization, generator: generator)
        value = Linear(width, keyValueWidth, bias: bias, initialization: initialization, generator: generator)
        output = Linear(width, width, bias: bias, initialization: initialization, generator: generator)
        (self.heads, self.keyValueHeads) = (heads, keyValueHeads)
    }

    override public var children: [(key: String, module: Module)] {
        [("query", query), ("key", key), ("value", value), ("output", output)]
    }

    /// x: (B, T, C) attends to `source` (B, S, C) — x itself for self-attention, another token
    /// stream (an adapter's encoder output) for cross-attention. keyPaddingMask: (B, S).
    public func callAsFunction(
        _ x: Tensor, source: Tensor? = nil, keyPaddingMask: Tensor? = nil, causal: Bool = false, rotary: RotaryEmbedding? = nil
    ) -> Tensor {
        let source = source ?? x
        let attended = MultiHeadAttention.attend(
            query: query(x), key: key(source), value: value(source), heads: heads, keyValueHeads: keyValueHeads,
            rotary: rotary, keyPaddingMask: keyPaddingMask, causal: causal)
        return output(attended)
    }
}

/// The position-wise feed-forward network: down(GELU(up(x))) or down(SiLU(gate(x)) ⊙ up(x)).
public final class FeedForward: Module {
    public enum Kind: String, Codable, Sendable {
        case gelu, swiglu
    }

    public let up: Linear, down: Linear
    /// Present for SwiGLU only.
    public let gate: Linear?

    public init(width: Int, hidden: Int, kind: Kind, bias: Bool = true, initialization: Initialization, generator: RandomGenerator) {
        up = Linear(width, hidden, bias: bias, initialization: initialization, generator: generator)
        down = Linear(hidden, width, bias: bias, initialization: initialization, generator: generator)
        gate = kind == .swiglu ? Linear(width, hidden, bias: bias, initialization: initialization, generator: generator) : nil
    }

    override public var children: [(key: String, module: Module)] {
        [("up", up), ("down", down)] + (gate.map { [("gate", $0)] } ?? [])
    }

    /// x: (B, T, C) → (B, T, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let gate else { return down(up.gelu(x)) }
        let gated = gate(x)
        return down(gated * gated.sigmoid() * up(x))
    }
}

/// A transformer block with either normalisation placement:
/// pre-norm  x + attn(norm(x)), h + mlp(norm(h))      (ESM-2, Llama — stable for deep stacks)
/// post-norm norm(x + attn(x)), norm(h + mlp(h))      (BERT, the original transformer).
/// Keys: `attention.{query,key,value,output}`, `attention_norm`, `mlp.{up,down,gate}`, `mlp_norm`.
public final class TransformerBlock: Module {
    public enum NormPlacement: String, Codable, Sendable {
        case pre, post
    }

    public let attention: AttentionProjections, attentionNorm: LayerNorm
    public let mlp: FeedForward, mlpNorm: LayerNorm
    public let placement: NormPlacement

    public init(
        width: Int, heads: Int, feedForward: Int, kind: FeedForward.Kind = .gelu, placement: NormPlacement,
        epsilon: Float = 1e-5, initialization: Initialization, generator: RandomGenerator
    ) {
        attention = AttentionProjections(width: width, heads: heads, initialization: initialization, generator: generator)
        attentionNorm = LayerNorm(width, epsilon: epsilon)
        mlp = FeedForward(width: width, hidden: feedForward, kind: kind, initialization: initialization, generator: generator)
        mlpNorm = LayerNorm(width, epsilon: epsilon)
        self.placement = placement
    }

    override public var children: [(key: String, module: Module)] {
        [("attention", attention), ("attention_norm", attentionNorm), ("mlp", mlp), ("mlp_norm", mlpNorm)]
    }

    /// x: (B, T, C); keyPaddingMask: (B, T) of 1/0 → (B, T, C).
    public func callAsFunction(_ x: Tensor, keyPaddingMask: Tensor? = nil, causal: Bool = false, rotary: RotaryEmbedding? = nil) -> Tensor {
        switch placement {
        case .pre:
            let hidden = x + attention(attentionNorm(x), keyPaddingMask: keyPaddingMask, causal: causal, rotary: rotary)
            return hidden + mlp(mlpNorm(hidden))
        case .post:
            let hidden = attentionNorm(x + attention(x, keyPaddingMask: keyPaddingMask, causal: causal, rotary: rotary))
            return mlpNorm(hidden + mlp(hidden))
        }
    }
}
