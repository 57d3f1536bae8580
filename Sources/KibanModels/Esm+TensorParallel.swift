import KibanNN
import KibanTensor

// Dim legend: B batch, T tokens, C hidden size, I feed-forward width, V vocabulary; a suffix r
// marks this rank's slice (Hr heads, Ir = I / ranks, Vr vocabulary rows).

/// Megatron-style tensor parallelism for ESM-2: attention heads and the feed-forward width split
/// over the ranks of a group (query/key/value and the first feed-forward projection by output rows,
/// the attention output and second projection by input columns, summed over the group), the word
/// embeddings and the tied masked-LM decoder split by vocabulary. Layer norms, biases after a sum,
/// and heads on top stay whole on every rank. Outputs and gradients equal the unsplit model's.
extension EsmLayer {
    /// Keeps this rank's heads and feed-forward columns; returns the splits under `prefix`.
    func shard(over group: TensorParallelGroup, prefix: String) -> TensorParallelLayout {
        var layout = TensorParallelLayout()
        let localHeads = group.evenPart(of: heads, what: "attention heads")
        for (name, projection) in [("query", selfAttention.query), ("key", selfAttention.key), ("value", selfAttention.value)] {
            layout.split(projection.weight, name: "\(prefix)attention.self.\(name).weight", axis: 0, group: group)
            if let bias = projection.bias { layout.split(bias, name: "\(prefix)attention.self.\(name).bias", axis: 0, group: group) }
        }
        layout.split(attentionOutput.weight, name: "\(prefix)attention.output.dense.weight", axis: 1, group: group)
        layout.split(intermediate.weight, name: "\(prefix)intermediate.dense.weight", axis: 0, group: group)
        if let bias = intermediate.bias { layout.split(bias, name: "\(prefix)intermediate.dense.bias", axis: 0, group: group) }
        layout.split(output.weight, name: "\(prefix)output.dense.weight", axis: 1, group: group)
        heads = localHeads.count
        tensorParallel = group
        return layout
    }

    /// The layer with split weights: x (B, T, C) whole on every rank → (B, T, C) whole.
    func split(
        _ x: Tensor, over group: TensorParallelGroup, keyPaddingMask: Tensor?, rotary: RotaryEmbedding, packing: SequencePacking?
    ) -> Tensor {
        let normed = group.copyToRegion(attentionNorm(x))
        let attended = MultiHeadAttention.attend(  // (B, T, Hr·D)
            query: selfAttention.query(normed), key: selfAttention.key(normed), value: selfAttention.value(normed),
            heads: heads, keyValueHeads: heads, rotary: rotary, keyPaddingMask: keyPaddingMask, causal: false,
            dropout: isTraining ? (attentionDropout, generator) : nil, packing: packing)
        let hidden = x + dropout(summedOverGroup(attentionOutput, attended, group))
        let inner = intermediate.gelu(group.copyToRegion(mlpNorm(hidden)))  // (B, T, Ir)
        return hidden + dropout(summedOverGroup(output, inner, group))
    }

    /// A projection split by input columns: the ranks' partial products summed, then the bias once.
    private func summedOverGroup(_ linear: Linear, _ x: Tensor, _ group: TensorParallelGroup) -> Tensor {
        let partial = group.reduceFromRegion(Tensor.linear(x, weight: linear.weight.value, bias: nil))
        return linear.bias.map { partial + $0.value } ?? partial
    }
}

extension EsmModel {
    /// Splits every layer and the word embeddings over `group` (call before building the optimizer
    /// and attaching adapters); returns which parameters were split, named within this model.
    public func shard(over group: TensorParallelGroup) -> TensorParallelLayout {
        var layout = TensorParallelLayout()
        layout.split(wordEmbeddings.weight, name: "embeddings.word_embeddings.weight", axis: 0, group: group, evenly: false)
        for (index, layer) in layers.enumerated() {
            layout.splits.merge(layer.shard(over: group, prefix: "encoder.layer.\(index).").splits) { $1 }
        }
        tensorParallel = group
        return layout
    }

    /// Word embeddings of ids (…) → (…, C), from the vocabulary slices of every rank when split.
    func embed(_ ids: IndexTensor) -> Tensor {
        guard let group = tensorParallel else { return wordEmbeddings(ids) }
        return group.vocabularyParallelEmbedding(wordEmbeddings.weight.value, ids: ids, vocabulary: group.part(of: config.vocabularySize))
    }
}

extension EsmForMaskedLM {
    /// Splits the encoder (``EsmModel/shard(over:)``) and the masked-LM decoder's bias by vocabulary
    /// (the decoder weight is the word embeddings); names are within this model.
    public func shard(over group: TensorParallelGroup) -> TensorParallelLayout {
        var layout = esm.shard(over: group).prefixed("esm.")
        layout.splits["lm_head.decoder.weight"] = layout.splits["esm.embeddings.word_embeddings.weight"]
        layout.split(bias, name: "lm_head.bias", axis: 0, group: group, evenly: false)
        return layout
    }
}
