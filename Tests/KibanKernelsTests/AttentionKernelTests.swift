import Foundation
import KibanKernels
import Testing

// Fused attention (Kernels/attention.c, semantics in kiban_attention.h). Legend as in the header: B batch, H query
// heads, Hkv key/value heads, G = H / Hkv query heads per key/value head, T queries, S keys, D head width; a pair
// is (batch, key/value head), numbered b·Hkv + kvh. Checked: the dropout uniforms against the header's SplitMix64
// formula and the keep rule at its boundary; the scalar kernels against an unfused Double reference written here
// from the header's formulas (scores, masks, causal horizon, softmax, dropout, P·V, and the backward pass with dK
// and dV summed over the G query heads) on small cases: head widths off 16, a KV-cache step, GQA, a key-padding
// mask broadcast over heads and queries, rows that see no key (exact zeros, lse −inf), causal masking, dropout,
// strided query/key/value layouts; a NaN query reaching its row and pair (not silently finite); pair ranges that
// split the work; the dispatcher on the scalar path. Where the CPU has AVX-512: the AVX-512 kernels against the
// scalar ones within 1e-5 (also with T = S = 130, so 64-key tiles and 32-row blocks have ragged edges), the same
// exact zeros and NaN rows, pair splits bit for bit, and the dispatcher on the AVX-512 path.

/// How a case masks its scores.
enum AttentionMask: Sendable {
    /// No mask (NULL).
    case unmasked
    /// A full (B, H, T, S) mask of values in [−1, 1) with every fifth entry −inf.
    case random
    /// A key-padding mask (B, 1, 1, S), strides (S, 0, 0, 1): batch b drops its last b + 1 keys (0 elsewhere).
    case keyPadding
}

/// Shapes and options of one attention case; AttentionProblem makes its data.
struct AttentionCase: Sendable, CustomStringConvertible {
    let name: String
    var batch: Int, heads: Int, kvHeads: Int, queries: Int, keys: Int, width: Int
    var mask = AttentionMask.unmasked
    /// With a .random mask: row (b 0, h H − 1, t T / 2) is masked with −inf only, so it sees no key.
    var maskedRow = false
    var causal = false
    var dropout: Float = 0
    var seed: UInt64 = 0
    /// q stored (B, T, H, D) and k, v stored (B, S, Hkv, D), as a (B, T, H·D) projection leaves them, instead of
    /// head-major (B, H, T, D) and (B, Hkv, S, D).
    var permuted = false

    var description: String { name }
}

extension AttentionCase {
    static let esmLike = AttentionCase(
        name: "ESM-like B2 H4 T=S=9 D16", batch: 2, heads: 4, kvHeads: 4, queries: 9, keys: 9, width: 16)
    static let width20 = AttentionCase(name: "D 20", batch: 1, heads: 2, kvHeads: 2, queries: 5, keys: 7, width: 20)
    static let width24 = AttentionCase(
        name: "D 24, random mask", batch: 2, heads: 1, kvHeads: 1, queries: 6, keys: 6, width: 24, mask: .random)
    static let kvCacheStep = AttentionCase(
        name: "KV-cache step T1 S37, causal", batch: 2, heads: 2, kvHeads: 2, queries: 1, keys: 37, width: 16,
        causal: true)
    static let groupedQuery = AttentionCase(
        name: "GQA H4 Hkv2", batch: 2, heads: 4, kvHeads: 2, queries: 7, keys: 11, width: 16)
    static let keyPaddingMask = AttentionCase(
        name: "key-padding mask", batch: 2, heads: 2, kvHeads: 2, queries: 6, keys: 10, width: 16, mask: .keyPadding)
    static let fullyMaskedRow = AttentionCase(
        name: "fully masked row", batch: 1, heads: 2, kvHeads: 1, queries: 4, keys: 5, width: 16, mask: .random,
        maskedRow: true)
    static let causalSquare = AttentionCase(
        name: "causal T=S", batch: 1, heads: 2, kvHeads: 2, queries: 8, keys: 8, width: 16, causal: true)
    /// Queries t < T − S = 2 see no key at all.
    static let causalMoreQueries = AttentionCase(
        name: "causal T6 S4", batch: 1, heads: 1, kvHeads: 1, queries: 6, keys: 4, width: 16, causal: true)
    static let withDropout = AttentionCase(
        name: "dropout 0.1", batch: 2, heads: 2, kvHeads: 1, queries: 5, keys: 9, width: 16, dropout: 0.1, seed: 1234)
    static let permutedLayout = AttentionCase(
        name: "permuted layout", batch: 2, heads: 4, kvHeads: 2, queries: 5, keys: 6, width: 16, permuted: true)
    static let everything = AttentionCase(
        name: "GQA, D 20, key padding, causal, dropout 0.2, permuted", batch: 2, heads: 4, kvHeads: 2, queries: 6,
        keys: 8, width: 20, mask: .keyPadding, causal: true, dropout: 0.2, seed: 99, permuted: true)
    static let large = AttentionCase(
        name: "B2 H3 T=S=130 D64", batch: 2, heads: 3, kvHeads: 3, queries: 130, keys: 130, width: 64)
    /// 390 rows per pair: blocks of 32 rows straddle the query heads.
    static let largeGrouped = AttentionCase(
        name: "B2 H3 Hkv1 T=S=130 D64, key padding, causal, dropout 0.1, permuted", batch: 2, heads: 3, kvHeads: 1,
        queries: 130, keys: 130, width: 64, mask: .keyPadding, causal: true, dropout: 0.1, seed: 7, permuted: true)
}

/// The cases the scalar kernels meet the Double reference on, and the AVX-512 kernels the scalar ones.
let attentionCases: [AttentionCase] = [
    .esmLike, .width20, .width24, .kvCacheStep, .groupedQuery, .keyPaddingMask, .fullyMaskedRow, .causalSquare,
    .causalMoreQueries, .withDropout, .permutedLayout, .everything,
]

/// The agreement with the Double reference and between paths: |a − b| ≤ 1e-5·max(1, |b|) (measured: under 2e-6).
private let attentionTolerance = 1e-5

/// What the kernels write: out and dq (B, H, T, D), lse (B, H, T), dk and dv (B, Hkv, S, D), all contiguous.
struct AttentionOutputs {
    var out: [Float], lse: [Float], dq: [Float], dk: [Float], dv: [Float]

    /// Each output with its name, widened to Double.
    var named: [(name: String, values: [Double])] {
        [("out", out.map(Double.init)), ("lse", lse.map(Double.init)), ("dq", dq.map(Double.init)),
         ("dk", dk.map(Double.init)), ("dv", dv.map(Double.init))]
    }

    /// The names of the outputs whose bit patterns differ from `other`'s.
    func bitDifferences(from other: AttentionOutputs) -> [String] {
        let outputs: [(String, [Float], [Float])] = [
            ("out", out, other.out), ("lse", lse, other.lse), ("dq", dq, other.dq), ("dk", dk, other.dk),
            ("dv", dv, other.dv),
        ]
        return outputs.filter { $0.1.map(\.bitPattern) != $0.2.map(\.bitPattern) }.map { $0.0 }
    }
}

/// Seeded operands of one case, and the kernels run on them. q and k are uniform in [−2, 2) (scores of order 1,
/// so the softmax is neither flat nor one-hot), v and dout in [−1, 1); scale = 1/√D.
struct AttentionProblem {
    typealias Forward = (
        UnsafePointer<kb_attention_problem>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int
    ) -> Int32
    typealias Backward = (
        UnsafePointer<kb_attention_problem>?, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
        UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int
    ) -> Int32

    let spec: AttentionCase
    var q: [Float], k: [Float], v: [Float], mask: [Float], dout: [Float]
    /// Strides of q's B, H, T axes; of k's and v's B, Hkv, S axes; of the mask's B, H, T, S axes.
    let qStride: (Int, Int, Int), kvStride: (Int, Int, Int), maskStride: (Int, Int, Int, Int)

    init(_ spec: AttentionCase) {
        self.spec = spec
        let (B, H, Hkv, T, S, D) = (spec.batch, spec.heads, spec.kvHeads, spec.queries, spec.keys, spec.width)
        var rng = SplitMix64(state: 41)
        q = rng.floats(B * H * T * D, scale: 2)
        k = rng.floats(B * Hkv * S * D, scale: 2)
        v = rng.floats(B * Hkv * S * D)
        dout = rng.floats(B * H * T * D)
        qStride = spec.permuted ? (T * H * D, D, H * D) : (H * T * D, T * D, D)
        kvStride = spec.permuted ? (S * Hkv * D, D, Hkv * D) : (Hkv * S * D, S * D, D)
        switch spec.mask {
        case .unmasked:
            mask = []
            maskStride = (0, 0, 0, 0)
        case .random:
            var values = rng.floats(B * H * T * S)
            for i in stride(from: 3, to: values.count, by: 5) { values[i] = -.infinity }
            if spec.maskedRow {
                let row = ((H - 1) * T + T / 2) * S
                for s in 0..<S { values[row + s] = -.infinity }
            }
            mask = values
            maskStride = (H * T * S, T * S, S, 1)
        case .keyPadding:
            mask = (0..<(B * S)).map { (i: Int) -> Float in i % S >= S - 1 - i / S ? -.infinity : 0 }
            maskStride = (S, 0, 0, 1)
        }
    }

    var scale: Float { 1 / Float(spec.width).squareRoot() }
    /// B·Hkv, the pairs of one whole call.
    var pairs: Int { spec.batch * spec.kvHeads }
    /// B·H·T, the rows of out, lse and dq.
    var rowCount: Int { spec.batch * spec.heads * spec.queries }
    /// B·Hkv·S, the rows of dk and dv.
    var keyRowCount: Int { spec.batch * spec.kvHeads * spec.keys }

    /// Offset of q[b, h, t, 0].
    func queryOffset(_ b: Int, _ h: Int, _ t: Int) -> Int { b * qStride.0 + h * qStride.1 + t * qStride.2 }
    /// Offset of k[b, kvh, s, 0] and of v[b, kvh, s, 0].
    func keyOffset(_ b: Int, _ kvh: Int, _ s: Int) -> Int { b * kvStride.0 + kvh * kvStride.1 + s * kvStride.2 }

    /// mask[b, h, t, s] through the mask strides, 0 without a mask.
    func maskValue(_ b: Int, _ h: Int, _ t: Int, _ s: Int) -> Double {
        if spec.mask == .unmasked { return 0 }
        return Double(mask[b * maskStride.0 + h * maskStride.1 + t * maskStride.2 + s * maskStride.3])
    }

    /// The dropout factor of linear score index ((b·H + h)·T + t)·S + s: 1 / (1 − p) where kb_attention_keep keeps
    /// it, 0 where it drops it, 1 without dropout.
    func dropFactor(_ index: Int) -> Double {
        if spec.dropout == 0 { return 1 }
        return kb_attention_keep(spec.seed, UInt64(index), spec.dropout) != 0 ? 1 / (1 - Double(spec.dropout)) : 0
    }

    /// Outputs filled with `value` (NaN by default: a sentinel for what a call must leave alone).
    func outputs(filledWith value: Float = .nan) -> AttentionOutputs {
        let rows = [Float](repeating: value, count: rowCount * spec.width)
        let keyRows = [Float](repeating: value, count: keyRowCount * spec.width)
        let lse = [Float](repeating: value, count: rowCount)
        return AttentionOutputs(out: rows, lse: lse, dq: rows, dk: keyRows, dv: keyRows)
    }

    /// The C problem over this problem's arrays, valid inside `body` only.
    func withProblem<Result>(_ body: (UnsafePointer<kb_attention_problem>) -> Result) -> Result {
        q.withUnsafeBufferPointer { q in
            k.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { v in
                    mask.withUnsafeBufferPointer { mask in
                        var problem = kb_attention_problem(
                            batch: spec.batch, heads: spec.heads, kv_heads: spec.kvHeads, queries: spec.queries,
                            keys: spec.keys, width: spec.width, q: q.baseAddress, q_stride: qStride, k: k.baseAddress,
                            k_stride: kvStride, v: v.baseAddress, v_stride: kvStride,
                            mask: spec.mask == .unmasked ? nil : mask.baseAddress, mask_stride: maskStride,
                            causal: spec.causal ? 1 : 0, scale: scale, dropout: spec.dropout, seed: spec.seed)
                        return withUnsafePointer(to: &problem) { body($0) }
                    }
                }
            }
        }
    }

    /// Runs a forward kernel on pairs `range`, writing out and lse of `result`.
    func forward(_ kernel: Forward, pairs range: Range<Int>, into result: inout AttentionOutputs) {
        var (out, lse) = (result.out, result.lse)
        let ran = withProblem { problem in
            out.withUnsafeMutableBufferPointer { out in
                lse.withUnsafeMutableBufferPointer { lse in
                    kernel(problem, out.baseAddress, lse.baseAddress, range.lowerBound, range.upperBound)
                }
            }
        }
        precondition(ran == 1, "the forward kernel could not allocate its scratch")
        result.out = out
        result.lse = lse
    }

    /// Runs a backward kernel on pairs `range` with a forward pass's out and lse, writing dq, dk and dv of `result`.
    func backward(
        _ kernel: Backward, out: [Float], lse: [Float], pairs range: Range<Int>, into result: inout AttentionOutputs
    ) {
        var (dq, dk, dv) = (result.dq, result.dk, result.dv)
        let ran = withProblem { problem in
            out.withUnsafeBufferPointer { out in
                lse.withUnsafeBufferPointer { lse in
                    dout.withUnsafeBufferPointer { dout in
                        dq.withUnsafeMutableBufferPointer { dq in
                            dk.withUnsafeMutableBufferPointer { dk in
                                dv.withUnsafeMutableBufferPointer { dv in
                                    kernel(
                                        problem, out.baseAddress, lse.baseAddress, dout.baseAddress, dq.baseAddress,
                                        dk.baseAddress, dv.baseAddress, range.lowerBound, range.upperBound)
                                }
                            }
                        }
                    }
                }
            }
        }
        precondition(ran == 1, "the backward kernel could not allocate its scratch")
        result.dq = dq
        result.dk = dk
        result.dv = dv
    }

    /// One forward and one backward call over every pair. The backward pass reads `source`'s out and lse when given
    /// (so two backward kernels meet the same inputs), else the forward pass's just computed.
    func run(
        _ forwardKernel: Forward, _ backwardKernel: Backward, gradientsFrom source: AttentionOutputs? = nil
    ) -> AttentionOutputs {
        var result = outputs()
        forward(forwardKernel, pairs: 0..<pairs, into: &result)
        let inputs = source ?? result
        backward(backwardKernel, out: inputs.out, lse: inputs.lse, pairs: 0..<pairs, into: &result)
        return result
    }
}

/// The unfused reference in Double, straight from the header: per row, scores = scale·q·k + mask (−inf past the
/// causal horizon s ≤ t + S − T), P = softmax (zeros for a row with every key dropped), out = Σ P·drop·v; backward
/// with dP = drop·(dout·v), dS = P∘(dP − Σ dP∘P), dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = (P·drop)ᵀ·dout, dK and dV
/// summed over the G query heads of their key/value head.
private func attentionReference(_ problem: AttentionProblem) -> [(name: String, values: [Double])] {
    let spec = problem.spec
    let (B, H, Hkv, T, S, D) = (spec.batch, spec.heads, spec.kvHeads, spec.queries, spec.keys, spec.width)
    let (G, scale) = (H / Hkv, Double(problem.scale))
    var out = [Double](repeating: 0, count: B * H * T * D), dq = out, lse = [Double](repeating: 0, count: B * H * T)
    var dk = [Double](repeating: 0, count: B * Hkv * S * D), dv = dk
    for b in 0..<B {
        for h in 0..<H {
            for t in 0..<T {
                let (kvh, row, query) = (h / G, (b * H + h) * T + t, problem.queryOffset(b, h, t))
                var scores = [Double](repeating: -.infinity, count: S)
                for s in 0..<S where !spec.causal || s <= t + S - T {
                    let key = problem.keyOffset(b, kvh, s)
                    var dot = 0.0
                    for d in 0..<D { dot += Double(problem.q[query + d]) * Double(problem.k[key + d]) }
                    scores[s] = scale * dot + problem.maskValue(b, h, t, s)
                }
                let top = scores.reduce(-Double.infinity) { $1 > $0 ? $1 : $0 }
                let shift = top == -.infinity ? 0 : top
                let e = scores.map { exp($0 - shift) }
                let sum = e.reduce(0, +)
                let prob = e.map { sum == 0 ? 0 : $0 / sum }
                let drop = (0..<S).map { problem.dropFactor(row * S + $0) }
                lse[row] = sum == 0 ? -.infinity : shift + log(sum)
                var dprob = [Double](repeating: 0, count: S)
                for s in 0..<S {
                    let value = problem.keyOffset(b, kvh, s)
                    var dot = 0.0
                    for d in 0..<D {
                        out[row * D + d] += prob[s] * drop[s] * Double(problem.v[value + d])
                        dot += Double(problem.dout[row * D + d]) * Double(problem.v[value + d])
                    }
                    dprob[s] = drop[s] * dot
                }
                let rowSum = (0..<S).reduce(0.0) { $0 + dprob[$1] * prob[$1] }
                for s in 0..<S {
                    let (key, gradient) = (problem.keyOffset(b, kvh, s), ((b * Hkv + kvh) * S + s) * D)
                    let dscore = prob[s] * (dprob[s] - rowSum)
                    for d in 0..<D {
                        dq[row * D + d] += scale * dscore * Double(problem.k[key + d])
                        dk[gradient + d] += scale * dscore * Double(problem.q[query + d])
                        dv[gradient + d] += prob[s] * drop[s] * Double(problem.dout[row * D + d])
                    }
                }
            }
        }
    }
    return [("out", out), ("lse", lse), ("dq", dq), ("dk", dk), ("dv", dv)]
}

/// The first element of `got` off `want` by more than attentionTolerance·max(1, |want|), or nil; NaN and
/// infinities must sit at the same places.
private func firstAttentionMismatch(_ got: [Double], _ want: [Double]) -> String? {
    guard got.count == want.count else { return "\(got.count) values, expected \(want.count)" }
    for (i, (a, r)) in zip(got, want).enumerated() {
        let ok: Bool
        if a.isNaN || r.isNaN {
            ok = a.isNaN && r.isNaN
        } else if a.isInfinite || r.isInfinite {
            ok = a == r
        } else {
            ok = abs(a - r) <= attentionTolerance * max(1, abs(r))
        }
        if !ok { return "[\(i)] = \(a), expected \(r)" }
    }
    return nil
}

/// Expects every named output of `got` to agree with the same one of `want` within attentionTolerance.
private func expectAgreement(
    _ got: [(name: String, values: [Double])], _ want: [(name: String, values: [Double])], _ label: String
) {
    for (output, reference) in zip(got, want) {
        let mismatch = firstAttentionMismatch(output.values, reference.values)
        #expect(mismatch == nil, "\(label): \(output.name)\(mismatch ?? "")")
    }
}

/// Rows that see no key give out = 0, lse = −inf and dq = 0 exactly while every other row is finite (a row masked
/// entirely; the first T − S queries under causal masking with T > S); keys dropped by the key-padding mask get
/// dk = dv = 0 exactly.
private func expectExactZerosWhereNoKeyIsSeen(
    _ forward: AttentionProblem.Forward, _ backward: AttentionProblem.Backward, path: String
) {
    let masked = AttentionProblem(.fullyMaskedRow), early = AttentionProblem(.causalMoreQueries)
    let maskedRow = (masked.spec.heads - 1) * masked.spec.queries + masked.spec.queries / 2
    for (problem, blindRows) in [(masked, [maskedRow]), (early, [0, 1])] {
        let result = problem.run(forward, backward), D = problem.spec.width
        for row in 0..<problem.rowCount {
            let out = result.out[(row * D)..<((row + 1) * D)], dq = result.dq[(row * D)..<((row + 1) * D)]
            if blindRows.contains(row) {
                let zeros = out.allSatisfy { $0 == 0 } && dq.allSatisfy { $0 == 0 } && result.lse[row] == -.infinity
                let values = "out \(Array(out)), lse \(result.lse[row]), dq \(Array(dq))"
                #expect(zeros, "\(path), \(problem.spec.name): row \(row) sees no key: \(values)")
            } else {
                let finite = out.allSatisfy(\.isFinite) && dq.allSatisfy(\.isFinite) && result.lse[row].isFinite
                #expect(finite, "\(path), \(problem.spec.name): row \(row) is not finite")
            }
        }
    }
    let padded = AttentionProblem(.keyPaddingMask)
    let result = padded.run(forward, backward)
    let (S, D) = (padded.spec.keys, padded.spec.width)
    for b in 0..<padded.spec.batch {
        for kvh in 0..<padded.spec.kvHeads {
            for s in (S - 1 - b)..<S {
                let start = ((b * padded.spec.kvHeads + kvh) * S + s) * D
                let (dk, dv) = (result.dk[start..<(start + D)], result.dv[start..<(start + D)])
                let zeros = dk.allSatisfy { $0 == 0 } && dv.allSatisfy { $0 == 0 }
                #expect(zeros, "\(path): dropped key \(s) of batch \(b), kv head \(kvh) has a gradient")
            }
        }
    }
}

/// A NaN in one query makes that row's out, lse and dq NaN, and dk and dv of its pair NaN, while every other row
/// and pair stays finite.
private func expectNaNQueryReachesItsRow(
    _ forward: AttentionProblem.Forward, _ backward: AttentionProblem.Backward, path: String
) {
    var problem = AttentionProblem(.groupedQuery)
    let spec = problem.spec, (b, h, t) = (1, 1, 2), D = spec.width
    let poisoned = problem.queryOffset(b, h, t) + 3
    problem.q[poisoned] = .nan
    let result = problem.run(forward, backward)
    let nanRow = (b * spec.heads + h) * spec.queries + t, nanPair = b * spec.kvHeads + h / (spec.heads / spec.kvHeads)
    for row in 0..<problem.rowCount {
        let out = result.out[(row * D)..<((row + 1) * D)], dq = result.dq[(row * D)..<((row + 1) * D)]
        if row == nanRow {
            let poisonedRow = out.allSatisfy(\.isNaN) && dq.allSatisfy(\.isNaN) && result.lse[row].isNaN
            #expect(poisonedRow, "\(path): row \(row) is not NaN")
        } else {
            let finite = out.allSatisfy(\.isFinite) && dq.allSatisfy(\.isFinite) && result.lse[row].isFinite
            #expect(finite, "\(path): NaN reached row \(row)")
        }
    }
    let pairSize = spec.keys * D
    for pair in 0..<problem.pairs {
        let range = (pair * pairSize)..<((pair + 1) * pairSize)
        let (dk, dv) = (result.dk[range], result.dv[range])
        if pair == nanPair {
            #expect(dk.allSatisfy(\.isNaN) && dv.allSatisfy(\.isNaN), "\(path): dk, dv of pair \(pair) are not NaN")
        } else {
            let finite = dk.allSatisfy(\.isFinite) && dv.allSatisfy(\.isFinite)
            #expect(finite, "\(path): NaN reached dk, dv of pair \(pair)")
        }
    }
}

/// Calls on pairs [0, n/2) and then [n/2, n) give what one call on [0, n) gives, bit for bit, and the first call
/// leaves the outputs of the other pairs alone (they keep their NaN sentinel).
private func expectSplitEqualsWhole(
    _ spec: AttentionCase, _ forward: AttentionProblem.Forward, _ backward: AttentionProblem.Backward, path: String
) {
    let problem = AttentionProblem(spec)
    let whole = problem.run(forward, backward)
    let (n, half, D) = (problem.pairs, problem.pairs / 2, spec.width)
    var split = problem.outputs()
    problem.forward(forward, pairs: 0..<half, into: &split)
    problem.backward(backward, out: whole.out, lse: whole.lse, pairs: 0..<half, into: &split)
    let firstRow = half * (spec.heads / spec.kvHeads) * spec.queries, firstKey = half * spec.keys
    let untouched = split.out[(firstRow * D)...].allSatisfy(\.isNaN) && split.lse[firstRow...].allSatisfy(\.isNaN)
        && split.dq[(firstRow * D)...].allSatisfy(\.isNaN) && split.dk[(firstKey * D)...].allSatisfy(\.isNaN)
        && split.dv[(firstKey * D)...].allSatisfy(\.isNaN)
    #expect(untouched, "\(path), \(spec.name): a call on pairs 0..<\(half) wrote outputs of later pairs")
    problem.forward(forward, pairs: half..<n, into: &split)
    problem.backward(backward, out: whole.out, lse: whole.lse, pairs: half..<n, into: &split)
    let differing = split.bitDifferences(from: whole)
    #expect(differing.isEmpty, "\(path), \(spec.name): split at pair \(half) changes \(differing)")
}

/// The header's dropout uniform written out: the (index + 1)-th SplitMix64 output for `seed`, top 24 bits · 2⁻²⁴.
private func documentedUniform(seed: UInt64, index: UInt64) -> Float {
    var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Float(z >> 40) * 0x1p-24
}

/// Runs `body` with `path` active, then restores the path KIBAN_KERNELS selects.
private func withAttentionPath<Result>(_ path: kb_path, _ body: () -> Result) -> Result {
    precondition(kb_set_path(path) == 1, "path \(path) is not supported here")
    defer { kb_reload_path_from_env() }
    return body()
}

/// Serialized: the dispatcher tests switch the process-wide kernel path.
@Suite(.serialized) struct AttentionKernelTests {
    @Suite struct Dropout {
        @Test func uniformIsTheDocumentedSplitMix64Output() {
            var generator = SplitMix64(state: 0)
            #expect(generator.next() == 0xE220_A839_7B1D_CDAF, "the first SplitMix64 output for seed 0")
            #expect(kb_attention_dropout_uniform(0, 0) == Float(0xE2_20A8) * 0x1p-24)
            let draws: [(seed: UInt64, index: UInt64)] = [
                (0, 0), (0, 1), (1, 0), (42, 7), (0xDEAD_BEEF, 1 << 40), (.max, 12_345), (99, .max),
            ]
            for (seed, index) in draws {
                let documented = documentedUniform(seed: seed, index: index)
                #expect(kb_attention_dropout_uniform(seed, index) == documented, "seed \(seed), index \(index)")
            }
            for seed: UInt64 in [0, 7, 0x5EED] {
                var sequence = SplitMix64(state: seed)
                for index: UInt64 in 0..<6 {
                    let z = sequence.next()
                    let uniform = Float(z >> 40) * 0x1p-24
                    #expect(kb_attention_dropout_uniform(seed, index) == uniform, "seed \(seed), output \(index + 1)")
                }
            }
        }

        /// Kept exactly when uniform ≥ p: p equal to the uniform keeps, the next float up drops; p = 0 keeps all.
        @Test func keepsExactlyTheUniformsAtOrAboveP() {
            let draws: [(seed: UInt64, index: UInt64)] = [(3, 0), (3, 1), (77, 1000), (0xFEED, 123_456_789)]
            for (seed, index) in draws {
                let uniform = kb_attention_dropout_uniform(seed, index)
                #expect(kb_attention_keep(seed, index, uniform) == 1, "seed \(seed), index \(index): p = uniform")
                #expect(kb_attention_keep(seed, index, uniform.nextUp) == 0, "seed \(seed), index \(index): p above")
                #expect(kb_attention_keep(seed, index, 0) == 1)
            }
            let kept = (0..<UInt64(20_000)).filter { kb_attention_keep(9, $0, 0.25) != 0 }.count
            #expect(abs(Double(kept) / 20_000 - 0.75) < 0.02, "kept \(kept) of 20000 at p = 0.25")
        }
    }

    @Suite struct ScalarReference {
        @Test(arguments: attentionCases)
        func equalsDoubleReference(_ spec: AttentionCase) {
            let problem = AttentionProblem(spec)
            let got = problem.run(kb_attention_forward_scalar, kb_attention_backward_scalar)
            expectAgreement(got.named, attentionReference(problem), "scalar, \(spec.name)")
        }

        @Test func exactZerosWhereNoKeyIsSeen() {
            expectExactZerosWhereNoKeyIsSeen(kb_attention_forward_scalar, kb_attention_backward_scalar, path: "scalar")
        }

        @Test func nanQueryReachesItsRow() {
            expectNaNQueryReachesItsRow(kb_attention_forward_scalar, kb_attention_backward_scalar, path: "scalar")
        }

        @Test(arguments: [AttentionCase.groupedQuery, .everything])
        func pairSplitEqualsOneCall(_ spec: AttentionCase) {
            expectSplitEqualsWhole(spec, kb_attention_forward_scalar, kb_attention_backward_scalar, path: "scalar")
        }

        @Test func dispatcherOnTheScalarPathIsTheScalarKernel() {
            let problem = AttentionProblem(.everything)
            let dispatched = withAttentionPath(KB_PATH_SCALAR) {
                problem.run(kb_attention_forward, kb_attention_backward)
            }
            let scalar = problem.run(kb_attention_forward_scalar, kb_attention_backward_scalar)
            let differing = dispatched.bitDifferences(from: scalar)
            #expect(differing.isEmpty, "the dispatcher on the scalar path changes \(differing)")
        }
    }

    #if arch(x86_64)
    @Suite(.enabled(if: kb_path_supported(KB_PATH_AVX512) != 0, "this CPU (or OS) has no AVX-512"))
    struct AVX512 {
        /// Both backward kernels read the scalar forward pass's out and lse, so each pass is compared on its own.
        @Test(arguments: attentionCases + [AttentionCase.large, .largeGrouped])
        func equalsScalar(_ spec: AttentionCase) {
            let problem = AttentionProblem(spec)
            let scalar = problem.run(kb_attention_forward_scalar, kb_attention_backward_scalar)
            let fast = problem.run(kb_attention_forward_avx512, kb_attention_backward_avx512, gradientsFrom: scalar)
            expectAgreement(fast.named, scalar.named, "AVX-512, \(spec.name)")
        }

        @Test func exactZerosWhereNoKeyIsSeen() {
            expectExactZerosWhereNoKeyIsSeen(kb_attention_forward_avx512, kb_attention_backward_avx512, path: "AVX-512")
        }

        @Test func nanQueryReachesItsRow() {
            expectNaNQueryReachesItsRow(kb_attention_forward_avx512, kb_attention_backward_avx512, path: "AVX-512")
        }

        @Test(arguments: [AttentionCase.groupedQuery, .everything, .large, .largeGrouped])
        func pairSplitEqualsOneCall(_ spec: AttentionCase) {
            expectSplitEqualsWhole(spec, kb_attention_forward_avx512, kb_attention_backward_avx512, path: "AVX-512")
        }

        @Test func dispatcherOnTheAVX512PathIsTheAVX512Kernel() {
            let problem = AttentionProblem(.largeGrouped)
            let dispatched = withAttentionPath(KB_PATH_AVX512) {
                problem.run(kb_attention_forward, kb_attention_backward)
            }
            let fast = problem.run(kb_attention_forward_avx512, kb_attention_backward_avx512)
            let differing = dispatched.bitDifferences(from: fast)
            #expect(differing.isEmpty, "the dispatcher on the AVX-512 path changes \(differing)")
        }
    }
    #endif
}
