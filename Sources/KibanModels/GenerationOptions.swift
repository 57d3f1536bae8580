/// How a decoder continues a prompt: greedy or sampled, how far, and where to stop.
///
/// Sampling follows Hugging Face's `generate(do_sample=True)`: the logits are divided by
/// `temperature`, cut to the `topK` most likely tokens, then to the nucleus of `topP`, and one
/// token is drawn from the softmax of what is left (see ``TokenSampler``). Unlike Hugging Face,
/// whose `GenerationConfig` defaults to `top_k=50`, `topK` defaults to 0 (no cut).
public struct GenerationOptions: Sendable, Equatable {
    /// The most tokens to generate after the prompt; a stop token counts as one.
    public var maxNewTokens: Int
    /// Divides the logits before sampling; 0 picks the most likely token instead (greedy,
    /// the lowest id among equal logits, as `torch.argmax`).
    public var temperature: Float
    /// Keeps the `topK` most likely tokens (and every token tied with the last of them, as
    /// `TopKLogitsWarper`); 0 keeps them all.
    public var topK: Int
    /// Keeps the smallest set of most likely tokens whose probabilities sum to at least `topP`
    /// (never fewer than one), as `TopPLogitsWarper`; 1 keeps them all. In (0, 1].
    public var topP: Float
    /// Generation ends right after one of these tokens, which stays in the output.
    public var stopTokens: Set<Int>
    /// Seeds the ``RandomGenerator`` of the draws: the same seed and prompt give the same tokens.
    public var seed: UInt64

    /// Options for a generation; the defaults are 32 greedy tokens with no stop token.
    public init(
        maxNewTokens: Int = 32, temperature: Float = 0, topK: Int = 0, topP: Float = 1,
        stopTokens: Set<Int> = [], seed: UInt64 = 0
    ) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.stopTokens = stopTokens
        self.seed = seed
    }

    /// Whether the next token is the argmax (temperature 0) rather than a draw.
    public var isGreedy: Bool { temperature == 0 }

    /// Checks every value's range.
    ///
    /// - Throws: ``GenerationError`` naming the first option out of range.
    public func validate() throws(GenerationError) {
        guard maxNewTokens >= 0 else { throw GenerationError("maxNewTokens \(maxNewTokens) is negative") }
        guard temperature >= 0, temperature.isFinite else {
            throw GenerationError("temperature \(temperature) must be finite and ≥ 0 (0 is greedy)")
        }
        guard topK >= 0 else { throw GenerationError("topK \(topK) is negative (0 keeps every token)") }
        guard topP > 0, topP <= 1 else { throw GenerationError("topP \(topP) is not in (0, 1] (1 keeps every token)") }
    }
}

/// Generation that cannot run: an option out of range, an empty prompt, a token outside the vocabulary.
public struct GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, in words.
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "generation: \(message)" }
}

/// The tokens a decoder produced for one prompt, and why it stopped.
public struct GeneratedSequence: Sendable, Equatable {
    /// Why generation ended.
    public enum StopReason: Sendable, Equatable {
        /// The last token is one of ``GenerationOptions/stopTokens``.
        case stopToken
        /// ``GenerationOptions/maxNewTokens`` tokens were generated.
        case maxNewTokens
    }

    /// The new tokens, without the prompt; they end with the stop token when one was generated,
    /// as the output of Hugging Face's `generate` ends with its eos token.
    public var tokens: [Int]
    /// Why generation ended.
    public var stopReason: StopReason
}
