import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// Plain reference: softmax(q kᵀ·scale + mask) v from unfused tensor ops.
/// q: (B, H, T, D); k, v: (B, H, S, D); mask: broadcastable to (B, H, T, S), 0 keeps and −∞ drops a key.
/// Returns (B, H, T, D).
private func unfusedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, scale: Float) -> Tensor {
    var scores = q.matmul(k.transposed()) * scale
    if let mask { scores = scores + mask }
    return scores.softmax().matmul(v)
}

/// Expects equal shapes and every element within `tolerance` (absolute) of the other tensor's.
private func expectClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-5, _ comment: Comment? = nil) {
    #expect(a.shape == b.shape, comment)
    let worst = zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "max difference \(worst) \(comment?.rawValue ?? "")")
}

/// Behaviour of attention beyond its gradients: padding, causality, grouped heads, the KV cache.
@Suite("Attention")
struct AttentionTests {
    let generator = RandomGenerator(seed: 21)

    @Test func bidirectionalMatchesUnfusedReference() {
        let q = Tensor.randn([2, 3, 4, 8], generator: generator)
        let k = Tensor.randn([2, 3, 6, 8], generator: generator), v = Tensor.randn([2, 3, 6, 8], generator: generator)
        let fused = Tensor.scaledDotProductAttention(query: q, key: k, value: v, scale: 0.35)
        expectClose(fused, unfusedAttention(q, k, v, mask: nil, scale: 0.35))
    }

    @Test func causalMatchesExplicitMask() {
        let q = Tensor.randn([1, 2, 5, 4], generator: generator)
        let k = Tensor.randn([1, 2, 5, 4], generator: generator), v = Tensor.randn([1, 2, 5, 4], generator: generator)
        var future = [Float](repeating: 0, count: 25)
        for row in 0..<5 { for column in (row + 1)..<5 where column < 5 { future[row * 5 + column] = -.infinity } }
        let fused = Tensor.scaledDotProductAttention(query: q, key: k, value: v, causal: true, scale: 0.5)
        expectClose(fused, unfusedAttention(q, k, v, mask: Tensor(shape: [5, 5], values: future), scale: 0.5))
    }

    @Test func groupedQueryHeadsShareKeyValueHeads() {
        let q = Tensor.randn([1, 4, 3, 2], generator: generator)
        let k = Tensor.randn([1, 2, 3, 2], generator: generator), v = Tensor.randn([1, 2, 3, 2], generator: generator)
        let fused = Tensor.scaledDotProductAttention(query: q, key: k, value: v, scale: 1)
        let repeated = { (x: Tensor) in Tensor.concatenate([x.sliced(axis: 1, 0..<1), x.sliced(axis: 1, 0..<1), x.sliced(axis: 1, 1..<2), x.sliced(axis: 1, 1..<2)], axis: 1) }
        expectClose(fused, unfusedAttention(q, repeated(k), repeated(v), mask: nil, scale: 1))
    }

    @Test func paddingNeverChangesRealTokens() {
        let width = 8
        let query = Tensor.randn([1, 5, width], generator: generator)
        let key = Tensor.randn([1, 5, width], generator: generator), value = Tensor.randn([1, 5, width], generator: generator)
        let short = MultiHeadAttention.attend(
            query: query.sliced(axis: 1, 0..<3), key: key.sliced(axis: 1, 0..<3), value: value.sliced(axis: 1, 0..<3),
            heads: 2, keyValueHeads: 2, rotary: RotaryEmbedding(headDimension: 4), keyPaddingMask: nil, causal: false)
        let garbage = Tensor.full([1, 2, width], 1e3)
        let padded = MultiHeadAttention.attend(
            query: Tensor.concatenate([query.sliced(axis: 1, 0..<3), garbage], axis: 1),
            key: Tensor.concatenate([key.sliced(axis: 1, 0..<3), garbage], axis: 1),
            value: Tensor.concatenate([value.sliced(axis: 1, 0..<3), garbage], axis: 1),
            heads: 2, keyValueHeads: 2, rotary: RotaryEmbedding(headDimension: 4),
            keyPaddingMask: Tensor(shape: [1, 5], values: [1, 1, 1, 0, 0]), causal: false)
        expectClose(padded.sliced(axis: 1, 0..<3), short)
    }

    @Test func keyValueCacheMatchesFullCausalPass() {
        let (tokens, width) = (6, 8)
        let q = Tensor.randn([2, tokens, width], generator: generator)
        let k = Tensor.randn([2, tokens, width / 2], generator: generator), v = Tensor.randn([2, tokens, width / 2], generator: generator)
        let rotary = RotaryEmbedding(headDimension: 2)
        let full = MultiHeadAttention.attend(
            query: q, key: k, value: v, heads: 4, keyValueHeads: 2, rotary: rotary, keyPaddingMask: nil, causal: true)
        let cache = KeyValueCache()
        var steps: [Tensor] = []
        for (start, end) in [(0, 3), (3, 4), (4, 5), (5, 6)] {
            steps.append(MultiHeadAttention.attend(
                query: q.sliced(axis: 1, start..<end), key: k.sliced(axis: 1, start..<end), value: v.sliced(axis: 1, start..<end),
                heads: 4, keyValueHeads: 2, rotary: rotary, keyPaddingMask: nil, causal: true, cache: cache, layer: 0))
        }
        #expect(cache.length == tokens)
        expectClose(Tensor.concatenate(steps, axis: 1), full)
    }
}

/// The generic block in both placements and both feed-forward kinds, and cross-attention.
@Suite("Transformer blocks")
struct TransformerBlockTests {
    @Test(arguments: [(TransformerBlock.NormPlacement.pre, FeedForward.Kind.swiglu), (.post, .gelu)])
    func blockGradientsMatchFiniteDifferences(placement: TransformerBlock.NormPlacement, kind: FeedForward.Kind) {
        let block = TransformerBlock(
            width: 8, heads: 2, feedForward: 12, kind: kind, placement: placement, initialization: .normal(std: 0.3),
            generator: RandomGenerator(seed: 8))
        let mask = Tensor(shape: [2, 3], values: [1, 1, 1, 1, 1, 0])
        let check = GradientCheck.Case("\(placement)-norm \(kind) block (2, 3, 8)", shapes: [[2, 3, 8]]) { inputs in
            block(inputs[0], keyPaddingMask: mask, causal: placement == .pre, rotary: RotaryEmbedding(headDimension: 4))
        }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    /// An attention layer of width 8 with 2 heads whose biases are random (they start at zero, and would then not
    /// be tested), and a key padding mask for two source sequences of length 5, the second ending in two pads.
    func crossAttentionSetup() -> (attention: AttentionProjections, keep: Tensor) {
        let attention = AttentionProjections(width: 8, heads: 2, initialization: .normal(std: 0.3), generator: RandomGenerator(seed: 9))
        let generator = RandomGenerator(seed: 11)
        for linear in [attention.query, attention.key, attention.value, attention.output] {
            linear.bias?.value = Tensor.randn([8], scale: 0.3, generator: generator)
        }
        return (attention, Tensor(shape: [2, 5], values: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]))
    }

    /// Queries from `tokens` (T = 3) attend to keys and values from a padded `source` (S = 5): the layer's output
    /// equals softmax(q kᵀ/√D + mask) v computed head by head from its own weights with plain tensor ops.
    @Test func crossAttentionMatchesUnfusedReference() {
        let (attention, keep) = crossAttentionSetup()
        let (batch, queries, keys, width, heads) = (2, 3, 5, 8, 2)
        let generator = RandomGenerator(seed: 10)
        // tokens: (B, T, C) with T = 3 queries; source: (B, S, C) with S = 5 keys and values.
        let tokens = Tensor.randn([batch, queries, width], generator: generator)
        let source = Tensor.randn([batch, keys, width], generator: generator)
        let fused = attention(tokens, source: source, keyPaddingMask: keep)

        // x: (B, L, C) → x Wᵀ + b: (B, L, C).
        let project = { (x: Tensor, linear: Linear) in x.matmul(linear.weight.value.transposed()) + linear.bias!.value }
        // (B, L, C) → (B, H, L, D).
        let splitHeads = { (x: Tensor) in x.reshaped([batch, x.shape[1], heads, width / heads]).permuted([0, 2, 1, 3]) }
        // keep (B, S) of 1/0 → additive mask (B, 1, 1, S) of 0/−∞.
        let mask = Tensor(shape: [batch, 1, 1, keys], values: keep.toArray().map { $0 == 1 ? 0 : -.infinity })
        let attended = unfusedAttention(
            splitHeads(project(tokens, attention.query)), splitHeads(project(source, attention.key)),
            splitHeads(project(source, attention.value)), mask: mask, scale: 1 / Float(width / heads).squareRoot())
        // (B, H, T, D) → (B, T, C), then the output projection.
        let merged = attended.permuted([0, 2, 1, 3]).reshaped([batch, queries, width])
        // Measured difference: 0 (the same GEMMs and softmax kernel); 1e-5 leaves room for BLAS blocking. Leaving
        // the mask out of this reference moves an output by 0.49.
        expectClose(fused, project(merged, attention.output), tolerance: 1e-5, "cross-attention, T = 3, S = 5, padded source")
    }

    /// Gradients of cross-attention with respect to the queries' stream and to the padded source (zero at its padded
    /// positions, by finite differences too) match central finite differences.
    @Test func crossAttentionGradientsMatchFiniteDifferences() {
        let (attention, keep) = crossAttentionSetup()
        let check = GradientCheck.Case("cross-attention (2, 3, 8) over a padded source (2, 5, 8)", shapes: [[2, 3, 8], [2, 5, 8]]) { inputs in
            attention(inputs[0], source: inputs[1], keyPaddingMask: keep)
        }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }
}
