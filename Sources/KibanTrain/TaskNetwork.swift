import KibanModels
import KibanNN
import KibanTensor

// Dim legend: B examples per batch, T tokens, E element slots, C hidden size, L labels, V vocabulary.

/// A task's network with the parts that inference reads separately: the encoder's hidden states,
/// the task head applied to the last of them, the masked-LM head, or the composition model.
public struct TaskNetwork {
    /// The whole network; its parameter names are the checkpoint's.
    public let module: Module
    /// Sequence models: the encoder (nil for composition models).
    public let encoder: HiddenStateEncoder?
    /// Masked-LM tasks: the model whose head turns the last hidden state into logits.
    public let maskedLM: MaskedLanguageModel?
    /// Supervised sequence tasks: last hidden state (B, T, C) and mask (B, T) → (B, L) for a
    /// sequence head, (B, T, L) for a token head.
    public let head: ((Tensor, Tensor) -> Tensor)?
    /// Composition tasks: the model from (elements, fractions, mask) to outputs (B, L).
    public let composition: MaterialsEncoder?

    init(
        module: Module, encoder: HiddenStateEncoder? = nil, maskedLM: MaskedLanguageModel? = nil,
        head: ((Tensor, Tensor) -> Tensor)? = nil, composition: MaterialsEncoder? = nil
    ) {
        (self.module, self.encoder, self.maskedLM, self.head, self.composition) = (module, encoder, maskedLM, head, composition)
    }
}

/// What a trained model needs at prediction time besides its weights: how to rebuild it, how to
/// tokenize, and how to turn outputs into the data's labels and units. `kiban finetune` writes it
/// as `task.json` into the run folder and into each checkpoint (attribute `task_info`).
public struct TaskInfo: Codable, Sendable, Equatable {
    /// The run's `task.kind`.
    public var kind: RunConfiguration.Task.Kind
    /// The resolved architecture (no file paths needed to rebuild it).
    public var architecture: ModelConfigFile
    /// `protein` (ESM's alphabet) or `wordpiece` (the run folder's `tokenizer.json` / `vocab.txt`).
    public var tokenizer: String
    /// Tokens per sequence the model was trained with (special tokens included).
    public var maxLength: Int
    /// Classification: the name of each class index (the label values of the data); token
    /// classification: the label character of each class.
    public var labelNames: [String]
    /// Regression: predictions in the data's units are `output × targetScale + targetMean`.
    public var targetMean: Double
    public var targetScale: Double

    public init(
        kind: RunConfiguration.Task.Kind, architecture: ModelConfigFile, tokenizer: String, maxLength: Int, labelNames: [String],
        targetMean: Double = 0, targetScale: Double = 1
    ) {
        (self.kind, self.architecture, self.tokenizer, self.maxLength) = (kind, architecture, tokenizer, maxLength)
        (self.labelNames, self.targetMean, self.targetScale) = (labelNames, targetMean, targetScale)
    }
}
