import KibanTensor
import KibanTestSupport
import Testing

/// Every differentiable op, checked against central finite differences (see ``GradientCheck``).
/// Cases feed transposed, sliced, permuted and broadcast operands where the op accepts them.
enum GradientCases {
    static let positive: @Sendable (RandomGenerator, [[Int]]) -> [Tensor] = { generator, shapes in
        shapes.map { Tensor.uniform($0, low: 0.5, high: 2, generator: generator) }
    }

    static let all: [GradientCheck.Case] = [
        .init("add (3, 4) + (3, 4)", shapes: [[3, 4], [3, 4]]) { $0[0] + $0[1] },
        .init("add broadcast (2, 3, 4) + (4,)", shapes: [[2, 3, 4], [4]]) { $0[0] + $0[1] },
        .init("add broadcast (3, 1) + (1, 4)", shapes: [[3, 1], [1, 4]]) { $0[0] + $0[1] },
        .init("sub transposed (4, 3)ᵀ − (3, 4)", shapes: [[4, 3], [3, 4]]) { $0[0].transposed() - $0[1] },
        .init("mul broadcast (2, 3, 4) ⊙ (3, 1)", shapes: [[2, 3, 4], [3, 1]]) { $0[0] * $0[1] },
        .init("mul sliced (5, 4)[1:4] ⊙ (3, 4)", shapes: [[5, 4], [3, 4]]) { $0[0].sliced(axis: 0, 1..<4) * $0[1] },
        .init("div (3, 4) / (4,)", inputs: { positive($0, [[3, 4], [4]]) }) { $0[0] / $0[1] },
        .init("neg and scalar ops (2, 3)", shapes: [[2, 3]]) { (2 - $0[0] * 3 + 1) / 4 },
        .init("exp (3, 4)", shapes: [[3, 4]]) { $0[0].exp() },
        .init("log (3, 4)", inputs: { positive($0, [[3, 4]]) }) { $0[0].log() },
        .init("sqrt transposed (4, 3)ᵀ", inputs: { positive($0, [[4, 3]]) }) { $0[0].transposed().sqrt() },
        .init("tanh (3, 4)", shapes: [[3, 4]]) { $0[0].tanh() },
        .init("sigmoid (3, 4)", shapes: [[3, 4]]) { $0[0].sigmoid() },
        .init("relu (3, 4)", shapes: [[3, 4]]) { $0[0].relu() },
        .init("abs (3, 4)", shapes: [[3, 4]]) { $0[0].abs() },
        .init("pow 3 (3, 4)", shapes: [[3, 4]]) { $0[0].pow(3) },
        .init("gelu erf (3, 5)", shapes: [[3, 5]], scale: 2) { $0[0].gelu() },
        .init("gelu tanh transposed (5, 3)ᵀ", shapes: [[5, 3]], scale: 2) { $0[0].transposed().gelu(approximation: .tanh) },
        .init("sum axes [0, 2] of (2, 3, 4)", shapes: [[2, 3, 4]]) { $0[0].summed(axes: [0, 2]) },
        .init("sum keepdims axis 1 of transposed (4, 3)ᵀ", shapes: [[4, 3]]) {
            $0[0].transposed().summed(axes: [1], keepingDimensions: true)
        },
        .init("mean all (3, 4)", shapes: [[3, 4]]) { $0[0].mean() },
        .init("mean axis -1 (2, 5)", shapes: [[2, 5]]) { $0[0].mean(axes: [-1]) },
        .init("max axis 1 (3, 5)", shapes: [[3, 5]]) { $0[0].max(axis: 1) },
        .init("max axis 0 keepdims (4, 3)", shapes: [[4, 3]]) { $0[0].max(axis: 0, keepingDimensions: true) },
        .init("max of a vector (5,)", shapes: [[5]]) { $0[0].max(axis: 0) },
        .init("matmul (3, 4) @ (4, 5)", shapes: [[3, 4], [4, 5]]) { $0[0].matmul($0[1]) },
        .init("linear (2, 3, 4) by weight (5, 4) and bias (5,)", shapes: [[2, 3, 4], [5, 4], [5]]) {
            Tensor.linear($0[0], weight: $0[1], bias: $0[2])
        },
        .init("linear of transposed input (4, 3)ᵀ without bias", shapes: [[4, 3], [2, 4]]) {
            Tensor.linear($0[0].transposed(), weight: $0[1], bias: nil)
        },
        .init("linear with residual (2, 3, 4) by (5, 4), bias, residual (2, 3, 5)", shapes: [[2, 3, 4], [5, 4], [5], [2, 3, 5]]) {
            Tensor.linear($0[0], weight: $0[1], bias: $0[2], residual: $0[3])
        },
        .init("linear GELU erf (3, 4) by (6, 4) and bias", shapes: [[3, 4], [6, 4], [6]], scale: 2) {
            Tensor.linearGELU($0[0], weight: $0[1], bias: $0[2])
        },
        .init("linear GELU tanh of transposed input (4, 3)ᵀ by (5, 4)", shapes: [[4, 3], [5, 4]], scale: 2) {
            Tensor.linearGELU($0[0].transposed(), weight: $0[1], bias: nil, approximation: .tanh)
        },
        .init("matmul transposed (4, 3)ᵀ @ (5, 4)ᵀ", shapes: [[4, 3], [5, 4]]) {
            $0[0].transposed().matmul($0[1].transposed())
        },
        .init("matmul sliced columns (3, 6)[:, ::2] @ (3, 2)", shapes: [[3, 6], [3, 2]]) {
            $0[0].sliced(axis: 1, 0..<6, step: 2).matmul($0[1])
        },
        .init("batched matmul (2, 3, 4) @ (2, 4, 2)", shapes: [[2, 3, 4], [2, 4, 2]]) { $0[0].matmul($0[1]) },
        .init("batched matmul broadcast (2, 1, 3, 4) @ (3, 4, 2)", shapes: [[2, 1, 3, 4], [3, 4, 2]]) {
            $0[0].matmul($0[1])
        },
        .init("matmul rank 3 @ matrix (2, 3, 4) @ (4, 5)", shapes: [[2, 3, 4], [4, 5]]) { $0[0].matmul($0[1]) },
        .init("batched matmul permuted (2, 4, 3) → (2, 3, 4) @ (4, 2)", shapes: [[2, 4, 3], [4, 2]]) {
            $0[0].permuted([0, 2, 1]).matmul($0[1])
        },
        .init("softmax axis -1 (3, 5)", shapes: [[3, 5]]) { $0[0].softmax() },
        .init("softmax axis 0 (4, 3)", shapes: [[4, 3]]) { $0[0].softmax(axis: 0) },
        .init("log_softmax axis -1 (3, 5)", shapes: [[3, 5]]) { $0[0].logSoftmax() },
        .init("log_softmax transposed (5, 3)ᵀ", shapes: [[5, 3]]) { $0[0].transposed().logSoftmax() },
        .init("layer_norm (2, 3, 6) weight bias", shapes: [[2, 3, 6], [6], [6]]) {
            $0[0].layerNorm(weight: $0[1], bias: $0[2])
        },
        .init("layer_norm weight only (3, 5)", shapes: [[3, 5], [5]]) { $0[0].layerNorm(weight: $0[1], bias: nil) },
        .init("layer_norm bias only (3, 5)", shapes: [[3, 5], [5]]) { $0[0].layerNorm(weight: nil, bias: $0[1]) },
        .init("matmul by a constant (3, 4) @ fixed (4, 2)", shapes: [[3, 4]]) {
            $0[0].matmul(Tensor(shape: [4, 2], values: [1, -2, 0.5, 3, -1, 0.25, 2, -0.5]))
        },
        .init("layer_norm no affine transposed (6, 4)ᵀ", shapes: [[6, 4]]) {
            $0[0].transposed().layerNorm(weight: nil, bias: nil)
        },
        .init("reshape (2, 6) → (3, 4) then mul", shapes: [[2, 6], [3, 4]]) { $0[0].reshaped([3, -1]) * $0[1] },
        .init("reshape of transposed (3, 4)ᵀ → (12,)", shapes: [[3, 4]]) { $0[0].transposed().reshaped([12]) * 2 },
        .init("permute (2, 3, 4) → (4, 2, 3)", shapes: [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]).exp() },
        .init("slice step 2 axis 1 of (3, 7)", shapes: [[3, 7]]) { $0[0].sliced(axis: 1, 1..<7, step: 2).tanh() },
        .init("expand (3, 1) → (2, 3, 4)", shapes: [[3, 1]]) { $0[0].expanded(to: [2, 3, 4]).sigmoid() },
        .init("unsqueeze and squeeze (3, 4)", shapes: [[3, 4]]) { $0[0].unsqueezed(1).squeezed(1).tanh() },
        .init("index_select axis 0 (5, 3) by [4, 0, 4, 2]", shapes: [[5, 3]]) {
            $0[0].indexSelect(axis: 0, indices: IndexTensor([4, 0, 4, 2]))
        },
        .init("index_select axis 1 (2, 5, 3) by (2, 2)", shapes: [[2, 5, 3]]) {
            $0[0].indexSelect(axis: 1, indices: IndexTensor(shape: [2, 2], values: [1, 3, 3, 0]))
        },
        .init("gather axis 1 (3, 4) by (3, 2)", shapes: [[3, 4]]) {
            $0[0].gather(axis: 1, index: IndexTensor(shape: [3, 2], values: [0, 3, 2, 2, 1, 0]))
        },
        .init("gather axis 0 of transposed (4, 3)ᵀ", shapes: [[4, 3]]) {
            $0[0].transposed().gather(axis: 0, index: IndexTensor(shape: [2, 4], values: [2, 0, 1, 1, 0, 0, 2, 1]))
        },
        .init("concat axis 1 (2, 3) ‖ (2, 1)ᵀ-view ‖ (2, 2)", shapes: [[2, 3], [1, 2], [2, 2]]) {
            Tensor.concatenate([$0[0], $0[1].transposed(), $0[2]], axis: 1)
        },
        .init("split axis 0 (5, 2) into [2, 3]", shapes: [[5, 2]]) {
            let parts = $0[0].split(sizes: [2, 3], axis: 0)
            return parts[0].sum() * parts[1].exp().sum()
        },
        .init("where broadcast (3, 4), (4,)", shapes: [[3, 4], [4]]) {
            let condition = Tensor(shape: [3, 1], values: [1, 0, 1])
            return Tensor.where(condition, $0[0], $0[1])
        },
        .init("masked_fill (2, 4) with key mask", shapes: [[2, 4]]) {
            $0[0].maskedFill(Tensor(shape: [1, 4], values: [0, 1, 0, 1]), value: -1e9).softmax()
        },
        .init("dropout p=0.3 (4, 5)", shapes: [[4, 5]]) {
            $0[0].dropout(probability: 0.3, generator: RandomGenerator(seed: 3))
        },
        .init("cross_entropy (4, 5) with an ignored row", shapes: [[4, 5]]) {
            $0[0].crossEntropy(targets: IndexTensor([1, -100, 4, 0]))
        },
        .init("contiguous of permuted (2, 3, 4)", shapes: [[2, 3, 4]]) { $0[0].permuted([1, 2, 0]).contiguous() * 3 },
        .init("rotary (2, 2, 3, 4) from a permuted (B, T, H, D) view", shapes: [[2, 3, 2, 4]]) {
            let tables = RandomGenerator(seed: 17)
            let cos = Tensor.randn([3, 4], generator: tables), sin = Tensor.randn([3, 4], generator: tables)
            return $0[0].permuted([0, 2, 1, 3]).rotated(cos: cos, sin: sin)
        },
        .init("attention q (2, 2, 3, 4) kv (2, 2, 5, 4)", shapes: [[2, 2, 3, 4], [2, 2, 5, 4], [2, 2, 5, 4]]) {
            Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], scale: 0.5)
        },
        .init("attention causal with key mask (1, 2, 4, 3)", shapes: [[1, 2, 4, 3], [1, 2, 4, 3], [1, 2, 4, 3]]) {
            let mask = Tensor(shape: [1, 1, 1, 4], values: [0, 0, 0, -.infinity])
            return Tensor.scaledDotProductAttention(
                query: $0[0], key: $0[1], value: $0[2], additiveMask: mask, causal: true, scale: 0.7)
        },
        .init("attention with probability dropout 0.3 (1, 2, 3, 4)", shapes: [[1, 2, 3, 4], [1, 2, 5, 4], [1, 2, 5, 4]]) {
            Tensor.scaledDotProductAttention(
                query: $0[0], key: $0[1], value: $0[2], scale: 0.5, dropout: (0.3, RandomGenerator(seed: 23)))
        },
        .init("packed attention of 3 sequences (1, 2, 9, 4)", shapes: [[1, 2, 9, 4], [1, 2, 9, 4], [1, 2, 9, 4]]) {
            Tensor.packedAttention(query: $0[0], key: $0[1], value: $0[2], packing: SequencePacking(lengths: [2, 4, 3]), scale: 0.5)
        },
        .init("packed causal grouped-query attention from (1, N, H, D) views", shapes: [[1, 7, 4, 2], [1, 7, 2, 2], [1, 7, 2, 2]]) {
            Tensor.packedAttention(
                query: $0[0].permuted([0, 2, 1, 3]), key: $0[1].permuted([0, 2, 1, 3]), value: $0[2].permuted([0, 2, 1, 3]),
                packing: SequencePacking(lengths: [3, 1, 3]), causal: true, scale: 1)
        },
        .init("attention grouped-query 4 heads over 2, permuted (B, T, H, D) inputs", shapes: [[1, 3, 4, 2], [1, 3, 2, 2], [1, 3, 2, 2]]) {
            Tensor.scaledDotProductAttention(
                query: $0[0].permuted([0, 2, 1, 3]), key: $0[1].permuted([0, 2, 1, 3]), value: $0[2].permuted([0, 2, 1, 3]),
                causal: true, scale: 1)
        },
    ]
}

@Suite("Gradient checks")
struct GradientCheckTests {
    @Test("backward equals finite differences", arguments: GradientCases.all)
    func backwardMatchesFiniteDifferences(_ testCase: GradientCheck.Case) {
        let mismatch = GradientCheck.run(testCase)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    @Test("a deliberately wrong backward is caught and named")
    func wrongBackwardIsCaught() throws {
        // square with a backward that returns 3x instead of 2x.
        let wrongSquare = GradientCheck.Case("wrong_square (3, 4)", shapes: [[3, 4]]) { inputs in
            let x = inputs[0]
            let output = withNoGrad { x * x }
            return Tensor.record("wrong_square", inputs: [x], output: output) { [x = x.detached()] gradient in
                [gradient * x * 3]
            }
        }
        let mismatch = try #require(GradientCheck.run(wrongSquare))
        #expect(mismatch.description.contains("wrong_square (3, 4)"))
        #expect(mismatch.description.contains("(3, 4)"))
    }

    @Test("the same op with the right backward passes")
    func rightBackwardPasses() {
        let square = GradientCheck.Case("square (3, 4)", shapes: [[3, 4]]) { inputs in
            let x = inputs[0]
            let output = withNoGrad { x * x }
            return Tensor.record("square", inputs: [x], output: output) { [x = x.detached()] gradient in
                [gradient * x * 2]
            }
        }
        #expect(GradientCheck.run(square) == nil)
    }
}

extension GradientCheck.Case: CustomTestStringConvertible {
    public var testDescription: String { name }
}
