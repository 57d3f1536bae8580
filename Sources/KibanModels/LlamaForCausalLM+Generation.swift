import KibanNN
import KibanTensor

// Dim legend: T prompt tokens, V vocabulary.

extension LlamaForCausalLM {
    /// Continues one prompt: a single forward pass over the prompt fills a ``KeyValueCache``
    /// (prefill), then each new token is fed alone against the cache.
    ///
    /// With `options.temperature` 0 this is Hugging Face's `generate(do_sample=False)`: each token is
    /// the argmax of the last position's logits. Otherwise each is drawn by one ``TokenSampler``
    /// seeded with `options.seed`, so equal prompts and options give equal tokens. Generation ends
    /// after a stop token (kept in the output, as Hugging Face keeps its eos) or after
    /// `options.maxNewTokens` tokens. Runs without recording gradients.
    ///
    /// - Parameter prompt: token ids (T), at least one.
    /// - Throws: ``GenerationError`` for an empty prompt, a prompt token outside the vocabulary or
    ///   an option out of range.
    public func generate(prompt: [Int], options: GenerationOptions) throws(GenerationError) -> GeneratedSequence {
        try options.validate()
        guard !prompt.isEmpty else { throw GenerationError("the prompt is empty") }
        let vocabulary = config.vocabularySize
        if let outside = prompt.first(where: { !(0..<vocabulary).contains($0) }) {
            throw GenerationError("prompt token \(outside) is outside the vocabulary 0..<\(vocabulary)")
        }
        let sampler = TokenSampler(options: options)
        let cache = KeyValueCache()
        var generated: [Int] = []
        var input = prompt
        while generated.count < options.maxNewTokens {
            let logits = withNoGrad { self(IndexTensor(shape: [1, input.count], values: input), cache: cache) }
            // logits: (1, T, V) → the last position's row (V).
            let token = sampler.next(logits: logits.sliced(axis: 1, (input.count - 1)..<input.count).toArray())
            generated.append(token)
            if options.stopTokens.contains(token) { return GeneratedSequence(tokens: generated, stopReason: .stopToken) }
            input = [token]
        }
        return GeneratedSequence(tokens: generated, stopReason: .maxNewTokens)
    }

    /// Continues each prompt on its own, as ``generate(prompt:options:)`` with the same options
    /// (each from `options.seed`), so a prompt's tokens do not depend on the other prompts.
    public func generate(prompts: [[Int]], options: GenerationOptions) throws(GenerationError) -> [GeneratedSequence] {
        var sequences: [GeneratedSequence] = []
        for prompt in prompts { sequences.append(try generate(prompt: prompt, options: options)) }
        return sequences
    }
}
