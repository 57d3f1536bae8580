import KibanKernels

// Dim legend: N packed tokens (all sequences of the row), H query heads, Hkv key/value heads, D head
// width, len the tokens of one sequence. The fused kernel works on a "blocked" layout: sequence i's
// (H, len, D) block starts at offset start(i)·H·D, so each sequence is one contiguous B = 1 problem.

extension Tensor {
    /// Self-attention over sequences packed back to back without padding: each sequence attends to its
    /// own tokens only (a block-diagonal mask that is never built), as FlashAttention's varlen call.
    ///
    /// - query: (1, H, N, D); key, value: (1, Hkv, N, D), with N = `packing.tokens`; views with unit
    ///   stride along D, such as heads split off a (1, N, H·D) projection, are read in place.
    /// - causal: within each sequence, token t sees tokens up to t.
    /// - dropout: as ``scaledDotProductAttention(query:key:value:additiveMask:causal:scale:dropout:)``,
    ///   one seed drawn from the generator (sequence i's keep decisions use seed + i·φ, φ = 0x9E3779B97F4A7C15).
    /// Returns (1, N, H·D), token-major: the layout the output projection reads. On the AVX-512 path the
    /// fused kernel runs each (sequence, key/value head) as a task; elsewhere each sequence's attention
    /// is computed separately and the results concatenated.
    public static func packedAttention(
        query: Tensor, key: Tensor, value: Tensor, packing: SequencePacking, causal: Bool = false, scale: Float,
        dropout: (probability: Float, generator: RandomGenerator)? = nil
    ) -> Tensor {
        let geometry = AttentionGeometry(query: query, key: key, value: value)
        tensorCheck(
            geometry.batch == 1 && geometry.queries == packing.tokens && geometry.keys == packing.tokens, "packed_attention",
            "query \(describeShape(query.shape)) and key \(describeShape(key.shape)) must be (1, H, N, D) with N = \(packing.tokens) packed tokens")
        guard kb_active_path() == KB_PATH_AVX512 else {
            return separateAttention(query: query, key: key, value: value, packing: packing, causal: causal, scale: scale, dropout: dropout)
        }
        let probability = dropout?.probability ?? 0
        tensorCheck(probability >= 0 && probability < 1, "packed_attention", "dropout probability \(probability) is not in [0, 1)")
        let options = AttentionOptions(
            mask: nil, causal: causal, scale: scale, dropout: probability, seed: probability > 0 ? dropout!.generator.next() : 0)
        let (q, k, v) = (query.unitStrideInnerView(), key.unitStrideInnerView(), value.unitStrideInnerView())
        let layout = PackedLayout(packing: packing, heads: geometry.heads, keyValueHeads: geometry.keyValueHeads, width: geometry.width)
        let blockedOutput = Tensor.empty([packing.tokens * layout.heads * layout.width])
        let logSumExp = Tensor.empty([packing.tokens * layout.heads])
        withExtendedLifetime((q, k, v)) {
            layout.forEachTask { sequence, kvHead in
                var problem = layout.problem(sequence, q, k, v, options: options)
                let (start, next) = (packing.offsets[sequence], kvHead + 1)
                let done = kb_attention_forward(
                    &problem, blockedOutput.pointer + start * layout.heads * layout.width, logSumExp.pointer + start * layout.heads,
                    kvHead, next)
                tensorCheck(done == 1, "packed_attention", "cannot allocate the kernel's scratch memory")
            }
        }
        let output = Tensor.empty([1, packing.tokens, layout.heads * layout.width])
        layout.move(blockedOutput.pointer, heads: layout.heads, toTokenMajor: output.pointer)
        return record("packed_attention", inputs: [query, key, value], output: output) { gradient in
            let dOutput = gradient.contiguousWithoutTape()
            let blockedGradient = Tensor.empty([packing.tokens * layout.heads * layout.width])
            layout.move(tokenMajor: dOutput.pointer, heads: layout.heads, toBlocked: blockedGradient.pointer)
            let dQuery = Tensor.empty([packing.tokens * layout.heads * layout.width])
            let dKey = Tensor.empty([packing.tokens * layout.keyValueHeads * layout.width]), dValue = Tensor.empty(dKey.shape)
            withExtendedLifetime((q, k, v)) {
                layout.forEachTask { sequence, kvHead in
                    var problem = layout.problem(sequence, q, k, v, options: options)
                    let start = packing.offsets[sequence]
                    let (queryOffset, keyOffset) = (start * layout.heads * layout.width, start * layout.keyValueHeads * layout.width)
                    let done = kb_attention_backward(
                        &problem, blockedOutput.pointer + queryOffset, logSumExp.pointer + start * layout.heads,
                        blockedGradient.pointer + queryOffset, dQuery.pointer + queryOffset, dKey.pointer + keyOffset,
                        dValue.pointer + keyOffset, kvHead, kvHead + 1)
                    tensorCheck(done == 1, "packed_attention", "cannot allocate the kernel's scratch memory")
                }
            }
            return [
                layout.headMajor(dQuery, heads: layout.heads), layout.headMajor(dKey, heads: layout.keyValueHeads),
                layout.headMajor(dValue, heads: layout.keyValueHeads),
            ]
        }
    }

    /// Each sequence through ``scaledDotProductAttention(query:key:value:additiveMask:causal:scale:dropout:)``
    /// on its slice, concatenated: (1, N, H·D).
    private static func separateAttention(
        query: Tensor, key: Tensor, value: Tensor, packing: SequencePacking, causal: Bool, scale: Float,
        dropout: (probability: Float, generator: RandomGenerator)?
    ) -> Tensor {
        let parts = (0..<packing.count).map { index -> Tensor in
            let tokens = packing.range(index)
            let slice = { (x: Tensor) in x.sliced(axis: 2, tokens) }
            return scaledDotProductAttention(
                query: slice(query), key: slice(key), value: slice(value), causal: causal, scale: scale, dropout: dropout
            ).permuted([0, 2, 1, 3])
        }
        let width = query.shape[1] * query.shape[3]
        return concatenate(parts, axis: 1).reshaped([1, packing.tokens, width])
    }

    /// This view if its last axis has unit stride (the fused kernel's only demand), else a contiguous copy.
    fileprivate func unitStrideInnerView() -> Tensor {
        strides[rank - 1] == 1 || shape[rank - 1] == 1 ? self : copied()
    }
}

/// Where each sequence's rows go between the kernel's blocked layout and the tensors' layouts.
private struct PackedLayout {
    let packing: SequencePacking
    let heads: Int, keyValueHeads: Int, width: Int

    /// Runs `body(sequence, kvHead)` for every pair, split over threads (about 2¹⁸ multiply-adds per task at least).
    func forEachTask(_ body: (Int, Int) -> Void) {
        let pairs = packing.count * keyValueHeads
        let averageLength = Swift.max(1, packing.tokens / packing.count)
        let pairWork = Swift.max(1, (heads / keyValueHeads) * averageLength * averageLength * width)
        Threading.parallelFor(pairs, minimumPerTask: (1 << 18 + pairWork - 1) / pairWork) { range in
            for pair in range { body(pair / keyValueHeads, pair % keyValueHeads) }
        }
    }

    /// Sequence `index` as a B = 1 kernel problem reading the (1, H, N, D) views in place.
    func problem(_ index: Int, _ q: Tensor, _ k: Tensor, _ v: Tensor, options: AttentionOptions) -> kb_attention_problem {
        let (start, length) = (packing.offsets[index], packing.range(index).count)
        let seed = options.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        return kb_attention_problem(
            batch: 1, heads: heads, kv_heads: keyValueHeads, queries: length, keys: length, width: width,
            q: UnsafePointer(q.pointer + start * q.strides[2]), q_stride: (q.strides[0], q.strides[1], q.strides[2]),
            k: UnsafePointer(k.pointer + start * k.strides[2]), k_stride: (k.strides[0], k.strides[1], k.strides[2]),
            v: UnsafePointer(v.pointer + start * v.strides[2]), v_stride: (v.strides[0], v.strides[1], v.strides[2]),
            mask: nil, mask_stride: (0, 0, 0, 0), causal: options.causal ? 1 : 0, scale: options.scale,
            dropout: options.dropout, seed: seed)
    }

    /// Offset of row (head, t) of sequence `index` in the blocked layout of `headCount` heads.
    private func blocked(_ index: Int, _ head: Int, _ t: Int, headCount: Int) -> Int {
        let (start, length) = (packing.offsets[index], packing.range(index).count)
        return (start * headCount + head * length + t) * width
    }

    /// Copies D-float rows: blocked → (N, heads, D) token-major.
    func move(_ blocked: UnsafeMutablePointer<Float>, heads headCount: Int, toTokenMajor tokenMajor: UnsafeMutablePointer<Float>) {
        forEachRow(headCount) { index, head, t in
            (tokenMajor + ((packing.offsets[index] + t) * headCount + head) * width)
                .update(from: blocked + self.blocked(index, head, t, headCount: headCount), count: width)
        }
    }

    /// Copies D-float rows: (N, heads, D) token-major → blocked.
    func move(tokenMajor: UnsafeMutablePointer<Float>, heads headCount: Int, toBlocked blocked: UnsafeMutablePointer<Float>) {
        forEachRow(headCount) { index, head, t in
            (blocked + self.blocked(index, head, t, headCount: headCount))
                .update(from: tokenMajor + ((packing.offsets[index] + t) * headCount + head) * width, count: width)
        }
    }

    /// A blocked gradient as a (1, heads, N, D) tensor.
    func headMajor(_ blocked: Tensor, heads headCount: Int) -> Tensor {
        let result = Tensor.empty([1, headCount, packing.tokens, width])
        forEachRow(headCount) { index, head, t in
            (result.pointer + (head * packing.tokens + packing.offsets[index] + t) * width)
                .update(from: blocked.pointer + self.blocked(index, head, t, headCount: headCount), count: width)
        }
        return result
    }

    /// Calls `body(sequence, head, t)` for every row of every sequence, sequences split over threads.
    private func forEachRow(_ headCount: Int, _ body: (Int, Int, Int) -> Void) {
        Threading.parallelFor(packing.count, minimumPerTask: Swift.max(1, packing.count / 64)) { range in
            for index in range {
                for head in 0..<headCount {
                    for t in 0..<packing.range(index).count { body(index, head, t) }
                }
            }
        }
    }
}
