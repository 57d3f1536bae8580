import Foundation
import KibanData
import KibanDistributed
import KibanModels
import KibanTensor

// Dim legend: n tokens of one sequence (special tokens included), C hidden size, L labels.

/// What `kiban infer` computes and where it writes it.
public struct InferenceOptions: Sendable {
    public var input: String
    public var inputOptions = InputOptions()
    /// Embeddings: an `.h5` file, or a folder of `.npy` files (any other path).
    public var embeddings: String?
    /// Hidden-state numbers; negative ones count from the last (−1 = the model's output).
    public var layers = [-1]
    public var include: [EmbeddingKind] = [.mean]
    /// Predictions of the task head (CSV or JSONL).
    public var predictions: String?
    /// Masked-LM scores: pseudo-log-likelihoods, or mutation scores with `variants` (CSV or JSONL).
    public var scores: String?
    /// A CSV of variants to score (`mutant` column, e.g. `A23G` or `A23G:K40R`, and an `id` column
    /// naming the input sequence; optional when the input holds one sequence).
    public var variants: String?
    public var batching = BatchLimit.tokens(16_384)
    /// Batches packed without padding where the encoder supports it (ESM-2), or padded.
    public var layout = BatchLayout.packed
    public var long = LongSequencePolicy.error
    /// The most tokens per sequence (default: the model's limit).
    public var maxTokens: Int?
    public var resume = false
    public var overwrite = false
    /// Stop after this many input records.
    public var limit: Int?
    /// Tokens read ahead and processed together (memory stays bounded by this, not by the input).
    public var chunkTokens = 131_072
    public var showProgress = true
    /// Decoder models: generate from token-id prompts instead of the encoder outputs.
    public var generation: GenerationRequest?

    public init(input: String) { self.input = input }
}

/// What a finished run did.
public struct InferenceSummary: Sendable {
    public let sequences: Int
    /// Sequences skipped because a resumed output already held them.
    public let skipped: Int
    public let tokens: Int
    public let seconds: Double
}

/// Streams the input through the model in bounded memory and writes every requested output in
/// input order. Under `mpirun` the ranks share each chunk's records and rank 0 writes.
public final class InferenceRun {
    let model: InferenceModel
    let options: InferenceOptions
    let communicator: Communicator
    let limit: Int
    let layers: [Int]
    let embeddingKeys: [EmbeddingKey]

    public init(model: InferenceModel, options: InferenceOptions, communicator: Communicator = SingleProcessCommunicator()) throws {
        self.model = model
        self.options = options
        self.communicator = communicator
        if communicator.size > 1 && (options.resume || options.generation != nil) {
            throw InferenceError("\(options.resume ? "--resume" : "--generate") runs as one process; start it without mpirun")
        }
        guard options.embeddings != nil || options.predictions != nil || options.scores != nil || options.generation != nil else {
            throw InferenceError("nothing to compute: give --embeddings, --predictions, --scores or --generate")
        }
        limit = options.maxTokens ?? model.maximumTokens
        if options.generation != nil && (options.embeddings != nil || options.predictions != nil || options.scores != nil) {
            throw InferenceError("--generate runs alone: drop --embeddings, --predictions and --scores")
        }
        if let maxTokens = options.maxTokens, maxTokens > model.maximumTokens || maxTokens < 3 {
            throw InferenceError("--max-tokens \(maxTokens): must be between 3 and the model's limit \(model.maximumTokens)")
        }
        if options.embeddings != nil || options.scores != nil, model.encoder == nil {
            throw InferenceError("\(model.summary): has no sequence encoder (embeddings and scores need one)")
        }
        if options.predictions != nil && model.head == nil && model.composition == nil {
            throw InferenceError("\(model.summary): has no task head; --predictions needs a fine-tuned model (a run folder)")
        }
        if options.scores != nil && model.maskedLM == nil {
            throw InferenceError("\(model.summary): has no masked-LM head; --scores needs a masked language model")
        }
        if options.include.contains(.sentence) && model.sentencePooling == nil {
            throw InferenceError("--include sentence: \(model.summary) is not a sentence-transformers folder (modules.json)")
        }
        let last = model.encoder?.hiddenLayerCount ?? 0
        layers = try options.layers.map { requested in
            let layer = requested < 0 ? last + 1 + requested : requested
            guard (0...last).contains(layer) else {
                throw InferenceError("--layers \(requested): the model has hidden states 0…\(last) (or −\(last + 1)…−1)")
            }
            return layer
        }
        var keys = Set<EmbeddingKey>()
        for kind in options.include {
            if kind == .sentence { keys.insert(EmbeddingKey(layer: last, kind: .sentence)); continue }
            for layer in layers { keys.insert(EmbeddingKey(layer: layer, kind: kind)) }
        }
        embeddingKeys = keys.sorted()
    }

    /// Runs to the end of the input (or `limit`).
    @discardableResult
    public func run() throws -> InferenceSummary {
        if let generation = options.generation { return try generate(generation) }
        let outputs = communicator.rank == 0 ? try openOutputs() : InferenceOutputs()
        defer { try? outputs.close() }
        let started = Date()
        let total = min(try InferenceInputReader.count(path: options.input, options: options.inputOptions), options.limit ?? Int.max)
        let progress = InferenceProgress(total: total, enabled: options.showProgress && communicator.rank == 0)
        // Chunks of at most a twentieth of the input (and at least 64 records), so progress moves every 5 %.
        let chunkRecords = max(64, total / 20)
        let reader = try InferenceInputReader(path: options.input, options: options.inputOptions)
        let variants = try options.variants.map { try VariantTable(path: $0) }
        var chunk: [PreparedRecord] = [], chunkTokens = 0, done = 0, skipped = 0, tokens = 0
        let flush = {
            try self.process(chunk, outputs: outputs, variants: variants)
            done += chunk.count
            tokens += chunkTokens
            progress.update(done: done + skipped, tokens: tokens)
            (chunk, chunkTokens) = ([], 0)
        }
        while done + skipped + chunk.count < total, let record = try reader.next() {
            if outputs.complete(record.id) {
                skipped += 1
                continue
            }
            let prepared = try prepare(record)
            chunk.append(prepared)
            chunkTokens += prepared.tokenCount
            if chunkTokens >= options.chunkTokens || chunk.count >= chunkRecords { try flush() }
        }
        if !chunk.isEmpty { try flush() }
        try outputs.close()
        try variants?.checkAllMatched()
        progress.finish()
        return InferenceSummary(sequences: done, skipped: skipped, tokens: tokens, seconds: Date().timeIntervalSince(started))
    }

    // MARK: Records

    /// A record ready for the model: token ids (special tokens included), or a formula.
    struct PreparedRecord {
        let record: InferenceRecord
        let tokens: [Int]
        let formula: ChemicalFormula?
        var tokenCount: Int { max(tokens.count, formula?.fractions.count ?? 0) }
    }

    func prepare(_ record: InferenceRecord) throws -> PreparedRecord {
        if model.composition != nil {
            do {
                return PreparedRecord(record: record, tokens: [], formula: try ChemicalFormula(parsing: record.text))
            } catch {
                throw InferenceError("\(record.location): id '\(record.id)': \(error)")
            }
        }
        var tokens: [Int]
        if let packed = record.tokens {
            tokens = packed
        } else {
            guard let tokenizer = model.tokenizer else { throw InferenceError("\(model.summary): cannot tokenize sequences") }
            if tokenizer.isPerResidue { try ResidueCheck.check(record, policy: options.inputOptions.residuePolicy) }
            let text = options.inputOptions.residuePolicy == .mapToUnknown ? ResidueCheck.mapped(record.text, tokenizer: tokenizer) : record.text
            tokens = tokenizer.encode(text, maxLength: Int.max / 2, truncate: false)
        }
        let readsInnerTokens = options.scores != nil || embeddingKeys.contains { $0.kind == .mean || $0.kind == .perToken }
        guard tokens.count >= 3 || !readsInnerTokens else {
            throw InferenceError(
                "\(record.location): id '\(record.id)' has no tokens besides the special ones (mean, per_tok and scores need some)")
        }
        if tokens.count > limit {
            switch options.long {
            case .error:
                throw InferenceError(
                    "\(record.location): id '\(record.id)' has \(tokens.count) tokens; the model takes at most \(limit) "
                        + "(--long truncate keeps the first \(limit), --long window slides windows over the whole sequence)")
            case .truncate: tokens = Array(tokens.prefix(limit - 1)) + [tokens[tokens.count - 1]]
            case .window: break
            }
        }
        return PreparedRecord(record: record, tokens: tokens, formula: nil)
    }
}
