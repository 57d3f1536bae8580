import CBLAS
import KibanKernels

// Dim legend: B batch, H query heads, G query heads per key/value head, T queries, S keys, D head width.

extension Tensor {
    /// softmax(Q Kᵀ · scale + mask) V as one tape node with a hand-written backward.
    ///
    /// - query: (B, H, T, D); key, value: (B, H / G, S, D) — grouped-query attention when G > 1
    ///   (query head h reads key/value head h / G). Any strides with unit stride along D go to
    ///   BLAS without copies, so a permuted (B, T, H, D) projection needs no transpose copy.
    /// - additiveMask: broadcastable to (B, H, T, S), added to the scores (0 keeps, −∞ drops a key);
    ///   a constant: it receives no gradient.
    /// - causal: query t sees keys s ≤ t + S − T (the last query sees every key, as with a KV cache).
    /// - dropout: drops attention probabilities with this probability (scaling the rest by 1/(1 − p)),
    ///   as `attention_probs_dropout_prob` does in training. The keep decision of each score is a hash
    ///   of one seed drawn from the generator and the score's index (`kb_attention_keep`), so the mask
    ///   is the same whichever path and thread split computes it.
    /// Returns (B, H, T, D), contiguous. Rows whose keys are all masked give zeros.
    ///
    /// Where the kernel path is AVX-512 this runs the fused kernel (`Kernels/attention.c`: tiles of
    /// keys with an online softmax, no (T, S) matrix kept; the backward recomputes probabilities from
    /// the saved log-sum-exp), so memory grows linearly with T; elsewhere per-head GEMMs and a row
    /// softmax over a (B, H, T, S) score tensor.
    public static func scaledDotProductAttention(
        query: Tensor, key: Tensor, value: Tensor, additiveMask: Tensor? = nil, causal: Bool = false, scale: Float,
        dropout: (probability: Float, generator: RandomGenerator)? = nil
    ) -> Tensor {
        let geometry = AttentionGeometry(query: query, key: key, value: value)
        let scoreShape = [geometry.batch, geometry.heads, geometry.queries, geometry.keys]
        if let additiveMask {
            tensorCheck(
                Shape.broadcast(additiveMask.shape, scoreShape, op: "attention") == scoreShape,
                "attention", "mask of shape \(describeShape(additiveMask.shape)) does not broadcast to scores \(describeShape(scoreShape))")
        }
        let probability = dropout?.probability ?? 0
        tensorCheck(probability >= 0 && probability < 1, "attention", "dropout probability \(probability) is not in [0, 1)")
        let options = AttentionOptions(
            mask: additiveMask?.detached(), causal: causal, scale: scale, dropout: probability,
            seed: probability > 0 ? dropout!.generator.next() : 0)
        let (q, k, v) = (query.unitStrideInner(), key.unitStrideInner(), value.unitStrideInner())
        let output = kb_active_path() == KB_PATH_AVX512
            ? fusedAttention(q, k, v, geometry: geometry, options: options)
            : unfusedAttention(q, k, v, geometry: geometry, options: options)
        return record("attention", inputs: [query, key, value], output: output.value, backward: output.backward)
    }

    /// The (B, H, T, S) score path: per-head GEMMs, the mask added, a row softmax, dropout, per-head GEMMs.
    private static func unfusedAttention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, geometry: AttentionGeometry, options: AttentionOptions
    ) -> (value: Tensor, backward: (Tensor) -> [Tensor?]) {
        let scale = options.scale
        let (b, h, t, s, d) = (geometry.batch, geometry.heads, geometry.queries, geometry.keys, geometry.width)
        let probabilities = Tensor.empty([b, h, t, s])
        geometry.forEachHead { batch, head, kvHead in
            gemm(
                .noTranspose, .transpose, t, s, d, scale, q.matrix(batch, head), k.matrix(batch, kvHead), 0,
                probabilities.pointer + (batch * h + head) * t * s, s)
        }
        if let mask = options.mask { probabilities.addInPlace(mask) }
        if options.causal { probabilities.maskFuture(queries: t, keys: s) }
        let rows = b * h * t, scores = probabilities.pointer
        Threading.parallelRows(rows, rowLength: s) { range in
            kb_softmax_rows(scores + range.lowerBound * s, scores + range.lowerBound * s, range.count, s)
        }
        let kept = options.dropout > 0 ? keepMask(shape: probabilities.shape, options: options) : nil
        let attended = kept.map { Elementwise.zip(probabilities, $0, op: "attention.dropout", *) } ?? probabilities
        let output = Tensor.empty([b, h, t, d])
        geometry.forEachHead { batch, head, kvHead in
            gemm(
                .noTranspose, .noTranspose, t, d, s, 1, (attended.pointer + (batch * h + head) * t * s, s),
                v.matrix(batch, kvHead), 0, output.pointer + (batch * h + head) * t * d, d)
        }
        return (output, { gradient in
            let dOutput = gradient.contiguousWithoutTape()
            let dScores = Tensor.empty([b, h, t, s])
            let dQuery = Tensor.empty([b, h, t, d])
            let dKey = Tensor.zeros([b, geometry.keyValueHeads, s, d]), dValue = Tensor.zeros([b, geometry.keyValueHeads, s, d])
            geometry.forEachHead { batch, head, kvHead in
                let p = (attended.pointer + (batch * h + head) * t * s, s)
                let dO = (dOutput.pointer + (batch * h + head) * t * d, d)
                let kvOffset = (batch * geometry.keyValueHeads + kvHead) * s * d
                gemm(.transpose, .noTranspose, s, d, t, 1, p, dO, 1, dValue.pointer + kvOffset, d)
                gemm(.noTranspose, .transpose, t, s, d, 1, dO, v.matrix(batch, kvHead), 0, dScores.pointer + (batch * h + head) * t * s, s)
            }
            if let kept {
                let (dp, keep) = (dScores.pointer, kept.pointer)
                for i in 0..<(rows * s) { dp[i] *= keep[i] }
            }
            let (pp, dp) = (UnsafePointer(probabilities.pointer), dScores.pointer)
            Threading.parallelRows(rows, rowLength: s) { range in
                let start = range.lowerBound * s
                kb_softmax_rows_backward(pp + start, dp + start, dp + start, range.count, s)
            }
            geometry.forEachHead { batch, head, kvHead in
                let dS = (dScores.pointer + (batch * h + head) * t * s, s)
                let kvOffset = (batch * geometry.keyValueHeads + kvHead) * s * d
                gemm(.noTranspose, .noTranspose, t, d, s, scale, dS, k.matrix(batch, kvHead), 0, dQuery.pointer + (batch * h + head) * t * d, d)
                gemm(.transpose, .noTranspose, s, d, t, scale, dS, q.matrix(batch, head), 1, dKey.pointer + kvOffset, d)
            }
            return [dQuery, dKey, dValue]
        })
    }

    /// 0 or 1/(1 − p) per attention probability, by the counter-based rule the fused kernel uses:
    /// (B, H, T, S).
    private static func keepMask(shape: [Int], options: AttentionOptions) -> Tensor {
        let mask = Tensor.empty(shape), scale = 1 / (1 - options.dropout)
        for i in 0..<mask.count {
            mask.pointer[i] = kb_attention_keep(options.seed, UInt64(i), options.dropout) == 1 ? scale : 0
        }
        return mask
    }

    /// Sets scores of keys after each query's causal horizon to −∞. self: (…, T, S) contiguous.
    private func maskFuture(queries t: Int, keys s: Int) {
        let matrices = count / Swift.max(t * s, 1)
        for matrix in 0..<matrices {
            for query in 0..<t {
                let row = pointer + (matrix * t + query) * s
                let horizon = query + s - t
                for key in Swift.max(horizon + 1, 0)..<s { row[key] = -.infinity }
            }
        }
    }

    /// This tensor if BLAS can read each (rows, D) matrix in place — unit stride along D and a
    /// row stride of at least D — else a contiguous copy.
    private func unitStrideInner() -> Tensor {
        let readable = (strides[3] == 1 || shape[3] == 1) && (shape[2] == 1 || strides[2] >= shape[3])
        return readable ? self : copied()
    }

    /// The (rows, D) matrix of one batch and head of a (B, H, rows, D) tensor with unit inner
    /// stride, as BLAS wants it: a pointer and a leading dimension.
    fileprivate func matrix(_ batch: Int, _ head: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let leading = shape[2] == 1 ? Swift.max(shape[3], 1) : strides[2]
        return (storage.pointer + offset + batch * strides[0] + head * strides[1], Swift.max(leading, 1))
    }
}

/// Shapes of an attention call, checked once.
struct AttentionGeometry {
    let batch: Int, heads: Int, keyValueHeads: Int, queries: Int, keys: Int, width: Int

    init(query: Tensor, key: Tensor, value: Tensor) {
        let describe = "query \(describeShape(query.shape)), key \(describeShape(key.shape)), value \(describeShape(value.shape))"
        tensorCheck(query.rank == 4 && key.rank == 4 && value.rank == 4, "attention", "needs rank-4 (B, H, T, D) tensors: \(describe)")
        (batch, heads, queries, width) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        (keyValueHeads, keys) = (key.shape[1], key.shape[2])
        tensorCheck(
            key.shape == value.shape && key.shape[0] == batch && key.shape[3] == width && keyValueHeads > 0
                && heads % keyValueHeads == 0, "attention",
            "key/value must be (B, H/G, S, D) matching the query: \(describe)")
    }

    /// Calls `body(batch, head, keyValueHead)` for every query head. Work is split over threads
    /// by (batch, key/value head), so the query heads that share — and accumulate into — one
    /// key/value head run on one thread. Threads are used only when each head's GEMMs are small
    /// enough that OpenBLAS runs them single-threaded (M·N·K ≤ 2¹⁸); larger ones use its threads.
    func forEachHead(_ body: (Int, Int, Int) -> Void) {
        let group = heads / keyValueHeads
        let largestProduct = queries * keys * width
        let minimumPerTask = largestProduct <= 1 << 18 ? 1 : batch * keyValueHeads
        Threading.parallelFor(batch * keyValueHeads, minimumPerTask: minimumPerTask) { range in
            for pair in range {
                let (b, kvHead) = (pair / keyValueHeads, pair % keyValueHeads)
                for h in (kvHead * group)..<((kvHead + 1) * group) { body(b, h, kvHead) }
            }
        }
    }
}
