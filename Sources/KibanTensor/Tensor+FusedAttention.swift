import KibanKernels

// Dim legend: B batch, H query heads, Hkv key/value heads, T queries, S keys, D head width.
// A pair is one (batch, key/value head): the unit the fused kernel splits over threads.

/// What an attention call does besides the three operands.
struct AttentionOptions {
    /// Additive mask broadcastable to (B, H, T, S), no tape; nil for none.
    let mask: Tensor?
    let causal: Bool
    let scale: Float
    /// Dropout probability in [0, 1) and the seed of its counter-based keep decisions.
    let dropout: Float
    let seed: UInt64
}

extension Tensor {
    /// Attention through the fused kernel (`kb_attention_forward` / `_backward`), pairs split over
    /// threads. Saves only the output and the per-row log-sum-exp (B, H, T) for the backward pass.
    ///
    /// q: (B, H, T, D), k, v: (B, Hkv, S, D), unit stride along D → (B, H, T, D) contiguous.
    static func fusedAttention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, geometry: AttentionGeometry, options: AttentionOptions
    ) -> (value: Tensor, backward: (Tensor) -> [Tensor?]) {
        let (b, h, t, s, d) = (geometry.batch, geometry.heads, geometry.queries, geometry.keys, geometry.width)
        let hkv = geometry.keyValueHeads
        let output = Tensor.empty([b, h, t, d]), logSumExp = Tensor.empty([b, h, t])
        let problem = kernelProblem(q, k, v, geometry: geometry, options: options)
        // About 2¹⁸ multiply-adds per thread at least, so a decoding step (T = 1) stays on one thread.
        let pairWork = Swift.max(1, (h / hkv) * t * s * d)
        let minimumPairs = (1 << 18 + pairWork - 1) / pairWork
        withExtendedLifetime((q, k, v, options.mask)) {
            Threading.parallelFor(b * hkv, minimumPerTask: minimumPairs) { pairs in
                var problem = problem
                let done = kb_attention_forward(&problem, output.pointer, logSumExp.pointer, pairs.lowerBound, pairs.upperBound)
                tensorCheck(done == 1, "attention", "cannot allocate the kernel's scratch memory")
            }
        }
        return (output, { gradient in
            let dOutput = gradient.contiguousWithoutTape()
            let dQuery = Tensor.empty([b, h, t, d])
            let dKey = Tensor.empty([b, hkv, s, d]), dValue = Tensor.empty([b, hkv, s, d])
            withExtendedLifetime((q, k, v, options.mask, dOutput)) {
                Threading.parallelFor(b * hkv, minimumPerTask: minimumPairs) { pairs in
                    var problem = problem
                    let done = kb_attention_backward(
                        &problem, output.pointer, logSumExp.pointer, dOutput.pointer, dQuery.pointer, dKey.pointer,
                        dValue.pointer, pairs.lowerBound, pairs.upperBound)
                    tensorCheck(done == 1, "attention", "cannot allocate the kernel's scratch memory")
                }
            }
            return [dQuery, dKey, dValue]
        })
    }

    /// The kernel's description of one call: shapes, operand pointers and strides, mask strides
    /// broadcast to (B, H, T, S).
    private static func kernelProblem(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, geometry: AttentionGeometry, options: AttentionOptions
    ) -> kb_attention_problem {
        let scoreShape = [geometry.batch, geometry.heads, geometry.queries, geometry.keys]
        let maskStrides = options.mask.map { Shape.broadcastStrides(shape: $0.shape, strides: $0.strides, to: scoreShape) }
            ?? [0, 0, 0, 0]
        return kb_attention_problem(
            batch: geometry.batch, heads: geometry.heads, kv_heads: geometry.keyValueHeads, queries: geometry.queries,
            keys: geometry.keys, width: geometry.width,
            q: UnsafePointer(q.pointer), q_stride: (q.strides[0], q.strides[1], q.strides[2]),
            k: UnsafePointer(k.pointer), k_stride: (k.strides[0], k.strides[1], k.strides[2]),
            v: UnsafePointer(v.pointer), v_stride: (v.strides[0], v.strides[1], v.strides[2]),
            mask: options.mask.map { UnsafePointer($0.pointer) },
            mask_stride: (maskStrides[0], maskStrides[1], maskStrides[2], maskStrides[3]),
            causal: options.causal ? 1 : 0, scale: options.scale, dropout: options.dropout, seed: options.seed)
    }
}
