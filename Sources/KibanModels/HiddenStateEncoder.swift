import KibanNN
import KibanTensor

// Dim legend: B batch, T tokens, C hidden size, V vocabulary.

/// An encoder whose intermediate hidden states can be read, as Hugging Face's
/// `output_hidden_states=True` and fair-esm's `repr_layers` give them.
///
/// Hidden state 0 is the embedding output; state i (1 ≤ i ≤ ``hiddenLayerCount``) is the output of
/// layer i, except that the last one is taken after a final LayerNorm where the model has one
/// (ESM-2's `emb_layer_norm_after`), exactly as both libraries number them.
public protocol HiddenStateEncoder: AnyObject {
    /// The number of layers; hidden states are numbered 0…hiddenLayerCount.
    var hiddenLayerCount: Int { get }
    /// The width C of every hidden state.
    var hiddenWidth: Int { get }
    /// The most tokens (special tokens included) one sequence may have.
    var maximumTokens: Int { get }
    /// ids, attentionMask: (B, T) → the requested hidden states, each (B, T, C).
    func hiddenStates(_ ids: IndexTensor, attentionMask: Tensor, layers: Set<Int>) -> [Int: Tensor]
}

/// An encoder that also runs sequences packed back to back in one row, without padding (ESM-2's
/// rotary positions restart per sequence; BERT's learned positions would need position ids).
public protocol PackedHiddenStateEncoder: HiddenStateEncoder {
    /// ids: (1, N), sequences packed back to back → the requested hidden states, each (1, N, C),
    /// each sequence's rows what it gets alone.
    func hiddenStates(packed ids: IndexTensor, packing: SequencePacking, layers: Set<Int>) -> [Int: Tensor]
}

/// A masked language model: an encoder and a head that maps its last hidden state to logits.
public protocol MaskedLanguageModel: AnyObject {
    var encoder: HiddenStateEncoder { get }
    /// hidden: (B, T, C), the encoder's last hidden state → logits (B, T, V).
    func logits(fromHidden hidden: Tensor) -> Tensor
    /// The mean cross-entropy of `logits` (N, V) against targets (N), −100 ignored (a model whose
    /// logits are split over the vocabulary combines its ranks' parts).
    func crossEntropy(_ logits: Tensor, targets: IndexTensor) -> Tensor
}

extension MaskedLanguageModel {
    public func crossEntropy(_ logits: Tensor, targets: IndexTensor) -> Tensor {
        logits.crossEntropy(targets: targets)
    }

    /// The masked-LM loss of a training step with logits computed only where a label is: the head
    /// never runs on the positions the loss ignores (85 % of them at the usual masking rate).
    ///
    /// hidden: (B, T, C), the encoder's last hidden state; labels: (B·T), −100 where a position is
    /// not scored → the mean cross-entropy over the labelled positions (0 when there are none), equal
    /// to the cross-entropy of the full logits with ignore index −100.
    public func maskedLoss(hidden: Tensor, labels: IndexTensor) -> Tensor {
        let width = hidden.shape[hidden.rank - 1]
        tensorCheck(
            hidden.count == labels.count * width, "masked_lm_loss",
            "hidden \(describeShape(hidden.shape)) does not hold one row per label (\(labels.count) labels)")
        let positions = labels.values.indices.filter { labels.values[$0] != -100 }
        let rows = hidden.reshaped([labels.count, width]).indexSelect(axis: 0, indices: IndexTensor(positions))
        return crossEntropy(logits(fromHidden: rows), targets: IndexTensor(positions.map { labels.values[$0] }))
    }
}

extension EsmModel: PackedHiddenStateEncoder {
    public var hiddenLayerCount: Int { layers.count }
    public var hiddenWidth: Int { config.hiddenSize }
    public var maximumTokens: Int { config.maximumPositions }

    public func hiddenStates(_ ids: IndexTensor, attentionMask: Tensor, layers wanted: Set<Int>) -> [Int: Tensor] {
        var hidden = wordEmbeddings(ids)
        if config.tokenDropout { hidden = tokenDropoutRescaled(hidden, ids: ids, mask: attentionMask) }
        hidden = hidden * attentionMask.unsqueezed(-1)
        return states(from: hidden, wanted: wanted) { layer, hidden in layer(hidden, keyPaddingMask: attentionMask, rotary: rotary) }
    }

    public func hiddenStates(packed ids: IndexTensor, packing: SequencePacking, layers wanted: Set<Int>) -> [Int: Tensor] {
        states(from: packedEmbeddings(ids, packing: packing), wanted: wanted) { layer, hidden in
            layer(hidden, keyPaddingMask: nil, rotary: rotary, packing: packing)
        }
    }

    /// The embedding output and the outputs of the layers up to the deepest wanted, the last after
    /// the final LayerNorm, keeping the wanted ones.
    private func states(from embeddings: Tensor, wanted: Set<Int>, layer apply: (EsmLayer, Tensor) -> Tensor) -> [Int: Tensor] {
        var hidden = embeddings
        var states: [Int: Tensor] = wanted.contains(0) ? [0: hidden] : [:]
        for (index, layer) in layers.prefix(wanted.max() ?? 0).enumerated() {
            hidden = apply(layer, hidden)
            if index + 1 == layers.count { hidden = finalNorm(hidden) }
            if wanted.contains(index + 1) { states[index + 1] = hidden }
        }
        return states
    }
}

extension BertModel: HiddenStateEncoder {
    public var hiddenLayerCount: Int { layers.count }
    public var hiddenWidth: Int { config.hiddenSize }
    public var maximumTokens: Int { config.maximumPositions }

    public func hiddenStates(_ ids: IndexTensor, attentionMask: Tensor, layers wanted: Set<Int>) -> [Int: Tensor] {
        var hidden = embeddings(ids, tokenTypes: nil)
        var states: [Int: Tensor] = wanted.contains(0) ? [0: hidden] : [:]
        for (index, layer) in layers.prefix(wanted.max() ?? 0).enumerated() {
            hidden = layer(hidden, keyPaddingMask: attentionMask)
            if wanted.contains(index + 1) { states[index + 1] = hidden }
        }
        return states
    }
}

extension EsmForMaskedLM: MaskedLanguageModel {
    public var encoder: HiddenStateEncoder { esm }

    public func logits(fromHidden hidden: Tensor) -> Tensor {
        let transformed = layerNorm(dense.gelu(hidden))
        let entering = esm.tensorParallel?.copyToRegion(transformed) ?? transformed
        return entering.matmul(esm.wordEmbeddings.weight.value.transposed()) + bias.value
    }

    public func crossEntropy(_ logits: Tensor, targets: IndexTensor) -> Tensor {
        guard let group = esm.tensorParallel else { return logits.crossEntropy(targets: targets) }
        return group.vocabularyParallelCrossEntropy(logits, targets: targets, vocabulary: group.part(of: esm.config.vocabularySize))
    }
}

extension BertForMaskedLM: MaskedLanguageModel {
    public var encoder: HiddenStateEncoder { bert }

    public func logits(fromHidden hidden: Tensor) -> Tensor {
        transformNorm(transform.gelu(hidden, approximation: activation))
            .matmul(bert.embeddings.wordEmbeddings.weight.value.transposed()) + bias.value
    }
}
