import Foundation
import KibanData
import KibanModels
import KibanNN
import KibanTensor

// Dim legend: B sequences per batch, T tokens, C hidden size, L labels, V vocabulary.

/// A model loaded for inference, with the parts each kind of output needs. Which parts exist
/// depends on what was loaded: an encoder gives embeddings, a task head predictions, a masked-LM
/// head scores, a causal LM generation, a composition model predictions for formulas.
public final class InferenceModel {
    /// What the task head's outputs mean.
    public enum HeadKind: Sendable, Equatable {
        /// Logits over classes with these names.
        case classification(labels: [String])
        /// One value; in the data's units it is `output × scale + mean`.
        case regression(mean: Double, scale: Double)
        /// Logits over per-token classes with these names.
        case tokenClassification(labels: [String])
    }

    /// How a sentence-transformers folder pools and normalises (its `1_Pooling` and `2_Normalize`).
    public struct SentencePooling: Sendable, Equatable {
        public var pooling: Pooling
        public var normalize: Bool
    }

    /// One line naming what was loaded, for logs and result files.
    public let summary: String
    /// The whole network (quantisation and adapters act on it).
    public let module: Module
    /// Sequences → token ids (nil for composition models, whose inputs are formulas).
    public let tokenizer: SequenceTokenizer?
    public let encoder: HiddenStateEncoder?
    public let maskedLM: MaskedLanguageModel?
    /// The id that masks a position for scoring (masked-LM models).
    public let maskTokenID: Int?
    /// The task head on the encoder's last hidden state (B, T, C) and mask (B, T).
    public let head: ((Tensor, Tensor) -> Tensor)?
    public let headKind: HeadKind?
    public let composition: MaterialsEncoder?
    public let causalLM: LlamaForCausalLM?
    /// Sentence-transformers folders: the pooling the folder prescribes.
    public let sentencePooling: SentencePooling?
    public let padID: Int
    /// The most tokens one sequence may have (special tokens included).
    public let maximumTokens: Int
    /// SHA-256 of the weights file that was loaded (run folders: the checkpoint).
    public let weightsSHA256: String

    init(
        summary: String, module: Module, tokenizer: SequenceTokenizer?, encoder: HiddenStateEncoder? = nil,
        maskedLM: MaskedLanguageModel? = nil, maskTokenID: Int? = nil, head: ((Tensor, Tensor) -> Tensor)? = nil,
        headKind: HeadKind? = nil, composition: MaterialsEncoder? = nil, causalLM: LlamaForCausalLM? = nil,
        sentencePooling: SentencePooling? = nil, padID: Int, maximumTokens: Int, weightsSHA256: String
    ) {
        (self.summary, self.module, self.tokenizer, self.encoder, self.maskedLM) = (summary, module, tokenizer, encoder, maskedLM)
        (self.maskTokenID, self.head, self.headKind, self.composition, self.causalLM) = (maskTokenID, head, headKind, composition, causalLM)
        (self.sentencePooling, self.padID, self.maximumTokens, self.weightsSHA256) = (sentencePooling, padID, maximumTokens, weightsSHA256)
        module.eval()
    }
}
