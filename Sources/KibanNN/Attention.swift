import Foundation
import KibanTensor
import Synchronization

// Dim legend: B batch, T new tokens, S keys (past + new), H query heads, K key/value heads,
// D head width, C model width = H·D.

/// Rotary position embedding in the `rotate_half` form used by Llama and ESM-2:
/// x·cos + rotate_half(x)·sin with frequencies θ^(−2i/D) repeated over both halves of D.
public struct RotaryEmbedding: Sendable {
    public let headDimension: Int
    public let base: Float

    public init(headDimension: Int, base: Float = 10_000) {
        tensorCheck(headDimension % 2 == 0, "rotary", "head width \(headDimension) must be even")
        self.headDimension = headDimension
        self.base = base
    }

    /// θ^(−2i/D) for i in 0..<D/2, rounded to float32 as Hugging Face stores them: (D/2).
    public func inverseFrequencies() -> Tensor {
        let half = headDimension / 2
        return Tensor(shape: [half], values: (0..<half).map { i in
            Float(1 / Foundation.pow(Double(base), Double(2 * i) / Double(headDimension)))
        })
    }

    /// cos and sin tables for positions `start..<start+count`: each (count, D). Rows come from a
    /// process-wide cache, so a model computes each angle once, not at every layer and step.
    func tables(start: Int, count: Int) -> (cos: Tensor, sin: Tensor) {
        let rows = RotaryTableCache.shared.rows(headDimension: headDimension, base: base, frequencies: inverseFrequencies().toArray(), upTo: start + count)
        let slice = (start * headDimension)..<((start + count) * headDimension)
        return (
            Tensor(shape: [count, headDimension], values: Array(rows.cos[slice])),
            Tensor(shape: [count, headDimension], values: Array(rows.sin[slice]))
        )
    }

    /// x: (B, H, T, D) at positions start..<start+T → same shape (one fused op).
    public func callAsFunction(_ x: Tensor, start: Int = 0) -> Tensor {
        let (cos, sin) = tables(start: start, count: x.shape[2])
        return x.rotated(cos: cos, sin: sin)
    }

    /// x: (B, H, T, D) with token t at `positions[t]` (packed sequences restart at 0) → same shape.
    public func callAsFunction(_ x: Tensor, positions: [Int]) -> Tensor {
        tensorCheck(positions.count == x.shape[2], "rotary", "\(positions.count) positions for \(x.shape[2]) tokens")
        let (cos, sin) = tables(start: 0, count: (positions.max() ?? 0) + 1)
        return x.rotated(cos: cos, sin: sin, positions: positions)
    }
}

/// cos and sin rows of every rotary width and base in use, grown (doubling) to the longest position asked for.
private final class RotaryTableCache: Sendable {
    static let shared = RotaryTableCache()

    private struct Key: Hashable { let headDimension: Int, base: Float }
    private let tables = Mutex([Key: (cos: [Float], sin: [Float])]())

    /// cos and sin of positions 0..<n for some n ≥ `positions`: row-major (n, D), each angle position·frequency in Double.
    func rows(headDimension: Int, base: Float, frequencies: @autoclosure () -> [Float], upTo positions: Int) -> (cos: [Float], sin: [Float]) {
        let key = Key(headDimension: headDimension, base: base)
        return tables.withLock { tables in
            if let known = tables[key], known.cos.count >= positions * headDimension { return known }
            let known = tables[key]?.cos.count ?? 0
            let count = Swift.max(positions, 2 * known / Swift.max(headDimension, 1), 64)
            let (frequencies, half) = (frequencies(), headDimension / 2)
            var cosines = [Float](repeating: 0, count: count * headDimension), sines = cosines
            for position in 0..<count {
                for i in 0..<half {
                    let angle = Double(position) * Double(frequencies[i])
                    let (cosine, sine) = (Float(Foundation.cos(angle)), Float(Foundation.sin(angle)))
                    cosines[position * headDimension + i] = cosine
                    cosines[position * headDimension + i + half] = cosine
                    sines[position * headDimension + i] = sine
                    sines[position * headDimension + i + half] = sine
                }
            }
            tables[key] = (cosines, sines)
            return (cosines, sines)
        }
    }
}

/// Cached keys and values of every layer for incremental decoding.
public final class KeyValueCache {
    /// Per layer: keys and values (B, K, S, D).
    var entries: [Int: (keys: Tensor, values: Tensor)] = [:]

    public init() {}

    /// Number of positions already cached (0 when empty).
    public var length: Int { length(layer: 0) }

    /// Number of positions cached for one layer.
    public func length(layer: Int) -> Int { entries[layer]?.keys.shape[2] ?? 0 }

    /// Appends new keys/values for `layer` and returns everything cached for it.
    func append(layer: Int, keys: Tensor, values: Tensor) -> (keys: Tensor, values: Tensor) {
        let merged: (keys: Tensor, values: Tensor)
        if let past = entries[layer] {
            merged = (Tensor.concatenate([past.keys, keys], axis: 2), Tensor.concatenate([past.values, values], axis: 2))
        } else {
            merged = (keys.contiguous(), values.contiguous())
        }
        entries[layer] = (merged.keys.detached(), merged.values.detached())
        return merged
    }
}

/// The shared middle of every attention layer: split projections into heads, rotate, attend, merge.
public enum MultiHeadAttention {
    /// q: (B, T, H·D), k and v: (B, T, K·D) → (B, T, H·D).
    /// - keyPaddingMask: (B, S) with 1 for real keys and 0 for padding, or nil.
    /// - cache/layer: when given, new keys and values are appended and attention runs over all of them;
    ///   rotary positions continue from the cached length.
    /// - dropout: attention-probability dropout (pass it only in training mode).
    /// - packing: the inputs are (1, N, ·) rows of sequences packed back to back (no padding, no
    ///   mask, no cache); each attends to itself, and rotary positions restart with each sequence.
    public static func attend(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, keyValueHeads: Int, rotary: RotaryEmbedding?,
        keyPaddingMask: Tensor?, causal: Bool, scale: Float? = nil, cache: KeyValueCache? = nil, layer: Int = 0,
        dropout: (probability: Float, generator: RandomGenerator)? = nil, packing: SequencePacking? = nil
    ) -> Tensor {
        let (batch, tokens, width) = (query.shape[0], query.shape[1], query.shape[2])
        tensorCheck(width % heads == 0, "attention", "width \(width) is not divisible by \(heads) heads")
        let headWidth = width / heads
        let start = cache?.length(layer: layer) ?? 0
        var q = splitHeads(query, heads: heads), k = splitHeads(key, heads: keyValueHeads)
        var v = splitHeads(value, heads: keyValueHeads)
        if let packing {
            tensorCheck(
                batch == 1 && tokens == packing.tokens && keyPaddingMask == nil && cache == nil, "attention",
                "packed sequences need one (1, \(packing.tokens), C) row without a padding mask or cache, got (\(batch), \(tokens), \(width))")
            if let rotary {
                let positions = packing.positions
                (q, k) = (rotary(q, positions: positions), rotary(k, positions: positions))
            }
            return Tensor.packedAttention(
                query: q, key: k, value: v, packing: packing, causal: causal, scale: scale ?? 1 / Float(headWidth).squareRoot(),
                dropout: dropout)
        }
        if let rotary {
            q = rotary(q, start: start)
            k = rotary(k, start: start)
        }
        if let cache { (k, v) = cache.append(layer: layer, keys: k, values: v) }
        let mask = keyPaddingMask.map(additiveKeyMask)
        let attended = Tensor.scaledDotProductAttention(
            query: q, key: k, value: v, additiveMask: mask, causal: causal,
            scale: scale ?? 1 / Float(headWidth).squareRoot(), dropout: dropout)
        return attended.permuted([0, 2, 1, 3]).reshaped([batch, tokens, width])
    }

    /// (B, T, H·D) → (B, H, T, D), a view.
    static func splitHeads(_ x: Tensor, heads: Int) -> Tensor {
        let (batch, tokens, width) = (x.shape[0], x.shape[1], x.shape[2])
        return x.reshaped([batch, tokens, heads, width / heads]).permuted([0, 2, 1, 3])
    }

    /// (B, S) of 1/0 → (B, 1, 1, S) of 0/−∞.
    static func additiveKeyMask(_ mask: Tensor) -> Tensor {
        let additive = withNoGrad { Tensor.where(mask, Tensor(0), Tensor(-.infinity)) }
        return additive.reshaped([mask.shape[0], 1, 1, mask.shape[1]])
    }
}
