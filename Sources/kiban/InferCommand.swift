import ArgumentParser
import Foundation
import KibanDistributed
import KibanData
import KibanInfer
import KibanModels
import KibanNN
import KibanTensor

/// `kiban infer`: applies a model to a FASTA, CSV or packed file, streaming, in input order.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Batch inference: embeddings, task predictions and masked-LM scores for a FASTA, CSV or packed .h5 input.",
        discussion: """
            MODEL is a run folder written by kiban finetune (best.h5 + task.json), a Hugging Face folder \
            (config.json + model.safetensors) or a Kiban checkpoint file. Outputs are written in input order \
            and flushed as the run goes; --resume continues an interrupted run, skipping ids already written. \
            Under mpirun -np N the ranks share each chunk of records and rank 0 writes the outputs (not with \
            --resume or --generate). \
            Example: kiban infer --model runs/demo/finetune --input proteins.fasta --predictions out.csv \
            --embeddings out.h5 --layers -1 --include mean per_tok
            """)

    @Option(help: "Run folder, Hugging Face folder or Kiban checkpoint.")
    var model: String

    @Option(help: "A PEFT adapter folder to apply on top of --model.")
    var adapter: String?

    @Flag(help: "Merge LoRA/DoRA adapters into the base weights (same outputs, faster).")
    var merge = false

    @Option(help: "Model YAML for a Kiban checkpoint that does not describe its model.")
    var modelConfig: String?

    @Option(help: "Run folders: the checkpoint file to load.")
    var checkpoint = "best.h5"

    @Option(help: "int8: W8A8 Linear layers (int8 weights per channel, activations per token; AVX-512 VNNI where present).")
    var quantize: Quantization?

    @Option(help: "Input: .fasta/.fa/.faa, .csv, or a packed .h5 corpus.")
    var input: String

    @Option(help: "CSV inputs: the id column ('' numbers the rows).")
    var idColumn = "id"

    @Option(help: "CSV inputs: the sequence (or formula) column.")
    var sequenceColumn = "sequence"

    @Option(help: "Residues outside the amino-acid alphabet: reject (an error naming the place) or x (read as X).")
    var unknownResidues = "reject"

    @Option(help: "Write embeddings to this .h5 file.")
    var embeddings: String?

    @Option(parsing: .unconditional, help: "Hidden states to embed, comma-separated (e.g. 0,3,-1); negative numbers count from the last (-1: the output).")
    var layers = "-1"

    @Option(parsing: .upToNextOption, help: "Embedding kinds: mean, per_tok, bos, sentence.")
    var include: [String] = ["mean"]

    @Option(help: "Write task-head predictions to this CSV or JSONL file.")
    var predictions: String?

    @Option(help: "Write masked-LM pseudo-log-likelihoods (or, with --variants, mutation scores) to this CSV or JSONL file.")
    var scores: String?

    @Option(help: "Variants to score (CSV: mutant as A23G or A23G:K40R, 1-based; id naming the input sequence).")
    var variants: String?

    @Option(help: "Decoder models: write generations for token-id prompts (space-separated ids) to this CSV or JSONL file.")
    var generate: String?

    @Option(help: "Generation: most new tokens per prompt.")
    var maxNewTokens = 32

    @Option(help: "Generation: sampling temperature (0: greedy).")
    var temperature: Float = 0

    @Option(help: "Generation: keep the k most likely tokens (0: all).")
    var topK = 0

    @Option(help: "Generation: nucleus sampling probability mass.")
    var topP: Float = 1

    @Option(parsing: .upToNextOption, help: "Generation: token ids that end a generation (kept in the output).")
    var stopTokens: [Int] = []

    @Option(help: "Generation: sampling seed.")
    var seed: UInt64 = 0

    @Option(help: "Sequences per forward pass (instead of --tokens-per-batch).")
    var batchSize: Int?

    @Option(help: "Tokens per forward pass: the tokens themselves when packed, sequences × the longest when padded (fair-esm's --toks_per_batch).")
    var tokensPerBatch = 16_384

    @Option(help: "Batch layout: packed (sequences back to back, no padding; ESM-2 encoders, others are padded) or padded.")
    var layout: BatchLayout = .packed

    @Option(help: "Sequences longer than the model: error, truncate or window.")
    var long = "error"

    @Option(help: "Tokens per sequence, special tokens included (default: the model's limit).")
    var maxTokens: Int?

    @Flag(help: "Continue existing outputs, skipping the ids they hold.")
    var resume = false

    @Flag(help: "Replace existing outputs.")
    var overwrite = false

    @Option(help: "Stop after this many input records.")
    var limit: Int?

    @Option(help: "Threads (0: KIBAN_NUM_THREADS, else all cores).")
    var threads = 0

    @Flag(help: "No progress display.")
    var quiet = false

    var parsedLayers: [Int]? {
        let values = layers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.isEmpty || values.contains(nil) ? nil : values.compactMap { $0 }
    }

    func validate() throws {
        guard LongSequencePolicy(rawValue: long) != nil else { throw ValidationError("--long must be error, truncate or window") }
        guard ["reject", "x"].contains(unknownResidues) else { throw ValidationError("--unknown-residues must be reject or x") }
        guard parsedLayers != nil else { throw ValidationError("--layers \(layers): give comma-separated integers, e.g. 0,3,-1") }
        for kind in include where EmbeddingKind(rawValue: kind) == nil {
            throw ValidationError("--include \(kind): not one of \(EmbeddingKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (batchSize ?? 1) > 0, tokensPerBatch > 0, (limit ?? 1) > 0 else {
            throw ValidationError("--batch-size, --tokens-per-batch and --limit must be positive")
        }
        guard !(resume && overwrite) else { throw ValidationError("--resume and --overwrite exclude each other") }
        guard variants == nil || scores != nil else { throw ValidationError("--variants needs --scores FILE for the mutation scores") }
    }

    func run() throws {
        try Launch.run("kiban infer", infer)
    }

    /// Loads the model and runs; under `mpirun` every rank computes its share and rank 0 writes and reports.
    private func infer(_ communicator: Communicator) throws {
        if threads > 0 {
            Threading.threadCount = threads
        } else if communicator.size > 1 {
            FinetuneCommand.shareCoresAmongRanks()
        }
        let loaded = try InferenceModel.load(
            model, options: ModelOptions(adapter: adapter, merge: merge, modelConfig: modelConfig, checkpoint: checkpoint, quantization: quantize))
        var options = InferenceOptions(input: input)
        options.inputOptions = InputOptions(
            idColumn: idColumn, textColumn: sequenceColumn, residuePolicy: unknownResidues == "x" ? .mapToUnknown : .reject)
        (options.embeddings, options.predictions, options.scores, options.variants) = (embeddings, predictions, scores, variants)
        options.layers = parsedLayers!
        options.include = include.compactMap(EmbeddingKind.init(rawValue:))
        options.batching = batchSize.map { .sequences($0) } ?? .tokens(tokensPerBatch)
        options.layout = layout
        options.long = LongSequencePolicy(rawValue: long)!
        (options.maxTokens, options.resume, options.overwrite, options.limit) = (maxTokens, resume, overwrite, limit)
        options.showProgress = !quiet
        if let generate {
            options.generation = GenerationRequest(output: generate, options: GenerationOptions(
                maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP, stopTokens: Set(stopTokens), seed: seed))
            try options.generation!.options.validate()
        }
        let run = try InferenceRun(model: loaded, options: options, communicator: communicator)
        if communicator.rank == 0 { FileHandle.standardError.write(Data("kiban infer: \(loaded.summary)\n".utf8)) }
        let summary = try run.run()
        guard communicator.rank == 0 else { return }
        print(String(format: "kiban infer: %d sequences (%d already written), %d tokens in %.1f s: %.1f sequences/s, %.0f tokens/s",
                     summary.sequences, summary.skipped, summary.tokens, summary.seconds,
                     Double(summary.sequences) / max(summary.seconds, 1e-9), Double(summary.tokens) / max(summary.seconds, 1e-9)))
    }
}

extension BatchLayout: ExpressibleByArgument {}
