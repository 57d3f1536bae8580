import KibanKernels
import KibanTensor
import Testing

/// The fused attention kernel (AVX-512 path) against the per-head GEMM path with its (B, H, T, S)
/// score tensor (any other kernel path): outputs and the gradients of query, key and value agree
/// within 1e-5, with masks, causal horizons, grouped-query heads, permuted inputs and dropout (both
/// paths draw the same counter-based keep decisions from the generator's seed).
@Suite("Fused attention equals the unfused path", .serialized,
       .enabled(if: kb_path_supported(KB_PATH_AVX512) != 0, "the fused kernel runs on the AVX-512 path, which this CPU lacks"))
struct FusedAttentionTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        /// (B, H, T, D) and (B, Hkv, S, D).
        let query: [Int], keyValue: [Int]
        var causal = false, keyPadding = false, dropout: Float = 0, permuted = false

        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "esm-like 2×4 heads, 17 tokens, D 16", query: [2, 4, 17, 16], keyValue: [2, 4, 17, 16], keyPadding: true),
        Case(name: "D 20, 70 keys (two key tiles)", query: [1, 3, 33, 20], keyValue: [1, 3, 70, 20]),
        Case(name: "causal KV-cache step T 1 of S 37", query: [2, 2, 1, 24], keyValue: [2, 2, 37, 24], causal: true),
        Case(name: "causal 40 tokens", query: [1, 2, 40, 8], keyValue: [1, 2, 40, 8], causal: true),
        Case(name: "grouped-query 4 heads over 2", query: [2, 4, 9, 16], keyValue: [2, 2, 9, 16], keyPadding: true),
        Case(name: "dropout 0.2", query: [1, 2, 12, 16], keyValue: [1, 2, 15, 16], dropout: 0.2),
        Case(name: "permuted (B, T, H, D) inputs, D 64", query: [2, 2, 35, 64], keyValue: [2, 2, 35, 64], causal: true, permuted: true),
    ]

    /// Output and input gradients of one case on the active kernel path.
    static func run(_ c: Case) -> (output: [Float], gradients: [[Float]]) {
        let generator = RandomGenerator(seed: 31)
        let shape = { (dims: [Int]) in c.permuted ? [dims[0], dims[2], dims[1], dims[3]] : dims }
        let q = Tensor.randn(shape(c.query), generator: generator, requiresGrad: true)
        let k = Tensor.randn(shape(c.keyValue), generator: generator, requiresGrad: true)
        let v = Tensor.randn(shape(c.keyValue), generator: generator, requiresGrad: true)
        let view = { (x: Tensor) in c.permuted ? x.permuted([0, 2, 1, 3]) : x }
        let (batch, keys) = (c.keyValue[0], c.keyValue[2])
        let mask = c.keyPadding
            ? Tensor(shape: [batch, 1, 1, keys], values: (0..<(batch * keys)).map { $0 % keys >= keys - 1 - $0 / keys ? -.infinity : 0 })
            : nil
        let output = Tensor.scaledDotProductAttention(
            query: view(q), key: view(k), value: view(v), additiveMask: mask, causal: c.causal,
            scale: 1 / Float(c.query[3]).squareRoot(), dropout: c.dropout > 0 ? (c.dropout, RandomGenerator(seed: 5)) : nil)
        let weights = Tensor.randn(output.shape, generator: generator)
        (output * weights).sum().backward()
        return (output.toArray(), [q, k, v].map { $0.grad?.toArray() ?? [] })
    }

    static func worstDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    @Test(arguments: cases)
    func outputsAndGradientsMatch(_ c: Case) {
        precondition(kb_set_path(KB_PATH_AVX512) == 1)
        defer { kb_reload_path_from_env() }
        let fused = Self.run(c)
        precondition(kb_set_path(KB_PATH_AVX2) == 1 || kb_set_path(KB_PATH_SCALAR) == 1)
        let unfused = Self.run(c)
        #expect(Self.worstDifference(fused.output, unfused.output) <= 1e-5, "\(c): output")
        #expect(fused.output.contains { $0 != 0 }, "\(c): all-zero output")
        for (name, index) in [("query", 0), ("key", 1), ("value", 2)] {
            let worst = Self.worstDifference(fused.gradients[index], unfused.gradients[index])
            #expect(worst <= 1e-5, "\(c): \(name) gradient differs by \(worst)")
        }
    }
}
