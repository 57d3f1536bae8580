import Foundation
import KibanModels

/// Generation for decoder models: prompts are token ids (a CSV or FASTA "sequence" of
/// space-separated ids, since Kiban has no byte-level BPE tokenizer), outputs the new ids.
public struct GenerationRequest: Sendable {
    /// CSV or JSONL: `id, prompt_tokens, generated, stop_reason`.
    public var output: String
    public var options: GenerationOptions

    public init(output: String, options: GenerationOptions) { (self.output, self.options) = (output, options) }
}

extension InferenceRun {
    static let generationColumns = ["prompt_tokens", "generated", "stop_reason"]

    /// Generates for every prompt of the input, in input order, one prompt at a time (each from
    /// the request's seed, so a prompt's text does not depend on the others).
    func generate(_ request: GenerationRequest) throws -> InferenceSummary {
        guard let model = model.causalLM else { throw InferenceError("\(self.model.summary): not a causal language model; --generate needs one") }
        let started = Date()
        if FileManager.default.fileExists(atPath: request.output) && !options.resume {
            guard options.overwrite else {
                throw InferenceError("\(request.output): exists; --resume continues it (skipping the ids it holds), --overwrite replaces it")
            }
            try FileManager.default.removeItem(atPath: request.output)
        }
        let writer = try TableWriter(path: request.output, columns: Self.generationColumns, resume: options.resume)
        defer { writer.close() }
        let done = Set(writer.existingIDs)
        let reader = try InferenceInputReader(path: options.input, options: options.inputOptions)
        var count = 0, skipped = 0, tokens = 0
        while count + skipped < (options.limit ?? Int.max), let record = try reader.next() {
            if done.contains(record.id) {
                skipped += 1
                continue
            }
            let prompt = try record.text.split(separator: " ").map { part -> Int in
                guard let id = Int(part), id >= 0, id < model.config.vocabularySize else {
                    throw InferenceError("\(record.location): id '\(record.id)': '\(part)' is not a token id below \(model.config.vocabularySize)")
                }
                return id
            }
            guard !prompt.isEmpty else { throw InferenceError("\(record.location): id '\(record.id)': the prompt is empty") }
            let generated: GeneratedSequence
            do {
                generated = try model.generate(prompt: prompt, options: request.options)
            } catch {
                throw InferenceError("--generate: \(error)")
            }
            try writer.append([(record.id, [
                .text(prompt.map(String.init).joined(separator: " ")), .text(generated.tokens.map(String.init).joined(separator: " ")),
                .text(generated.stopReason == .stopToken ? "stop_token" : "max_new_tokens"),
            ])])
            count += 1
            tokens += prompt.count + generated.tokens.count
        }
        return InferenceSummary(sequences: count, skipped: skipped, tokens: tokens, seconds: Date().timeIntervalSince(started))
    }
}
