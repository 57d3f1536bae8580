import ArgumentParser
import Foundation
import KibanData
import KibanInfer
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor

/// Options shared by `bench train` and `bench infer`.
struct ModelBenchOptions: ParsableArguments {
    @Option(help: "Model size: \(BenchModelSize.allCases.map(\.rawValue).joined(separator: ", ")).")
    var config: BenchModelSize = .esm2_8m

    @Option(help: "Tokens per sequence.")
    var sequenceLength = BenchWorkloads.standard.sequenceLength

    @Option(help: "Sequences per batch.")
    var batchSize = BenchWorkloads.standard.batchSize

    @Option(help: "Timed steps per measurement (the median is reported).")
    var steps = BenchWorkloads.standard.timedSteps

    @Option(help: "Untimed warm-up steps.")
    var warmup = BenchWorkloads.standard.warmupSteps

    @Option(help: "FP32 peak of the machine in GFLOP/s for the share of peak; measured with an FMA loop when omitted.")
    var peakGflops: Double?

    @Option(help: "Matrix products in float32 or bf16 mixed precision (bf16 operands, float32 accumulation).")
    var precision: GEMMPrecision = .float32

    @Flag(help: "Print JSON instead of a line of text.")
    var json = false

    func validate() throws {
        guard sequenceLength > 2, batchSize > 0, steps > 0, warmup >= 0 else {
            throw ValidationError("--sequence-length must exceed 2; --batch-size and --steps must be positive")
        }
        guard precision.isSupported else {
            throw ValidationError("--precision \(precision.rawValue) needs a CPU with AVX-512 BF16 (and KIBAN_KERNELS unset or avx512)")
        }
    }

    /// A reproducible masked-LM batch as ``BenchWorkloads`` defines it: <cls> residues <eos>, a
    /// share of the residues masked with labels.
    func batch() -> (ids: IndexTensor, labels: IndexTensor) {
        let generator = RandomGenerator(seed: 42)
        var ids: [Int] = [], labels: [Int] = []
        for _ in 0..<batchSize {
            for position in 0..<sequenceLength {
                let residue = 4 + Int(generator.next() % 20)
                let isEnd = position == 0 || position == sequenceLength - 1
                let masked = !isEnd && Double(generator.uniform()) < BenchWorkloads.standard.maskProbability
                ids.append(position == 0 ? 0 : position == sequenceLength - 1 ? 2 : masked ? 32 : residue)
                labels.append(masked ? residue : -100)
            }
        }
        return (IndexTensor(shape: [batchSize, sequenceLength], values: ids), IndexTensor(labels))
    }

    struct Report: Codable {
        let mode: String
        /// "float32", "bf16" (mixed precision), or the quantisation of the Linear layers ("int8").
        let precision: String
        let config: BenchModelSize
        let sequenceLength: Int
        let batchSize: Int
        let threads: Int
        let parameters: Int
        let secondsPerStep: Double
        let tokensPerSecond: Double
        /// CPU seconds per step of all threads: time in Kiban's code and libraries, and in the kernel.
        let userSecondsPerStep: Double, systemSecondsPerStep: Double
        let peakResidentMegabytes: Double
        /// The most bytes tensors held at once (RSS adds the buffer pool, code, libraries and the heap), in MB.
        let peakTensorMegabytes: Double
        /// Model FLOPs per token (``BenchModelSize/forwardFlopsPerToken(sequenceLength:)``; 3× for training).
        let modelFlopsPerToken: Double
        /// Model FLOPs × tokens/s against the machine's FP32 peak on these threads.
        let gflops: Double, peakGflops: Double, fractionOfPeak: Double
    }

    /// `step` timed in the chosen precision.
    func time(_ step: () -> Void) -> Timing.StepTimes {
        GEMMPrecision.with(precision) { Timing.steps(warmup: warmup, repeats: steps, step) }
    }

    /// Prints the step's figures; `training` counts a step as 3× the forward FLOPs.
    func report(mode: String, precision: String, parameters: Int, times: Timing.StepTimes, training: Bool) throws {
        let threads = Threading.threadCount
        let tokensPerSecond = Double(batchSize * sequenceLength) / times.wallSeconds
        let flopsPerToken = (training ? 3 : 1) * config.forwardFlopsPerToken(sequenceLength: sequenceLength)
        let peak = peakGflops ?? MachinePeak.measure(threads: threads)
        let gflops = flopsPerToken * tokensPerSecond * 1e-9
        let report = Report(
            mode: mode, precision: precision, config: config, sequenceLength: sequenceLength, batchSize: batchSize, threads: threads,
            parameters: parameters, secondsPerStep: times.wallSeconds, tokensPerSecond: tokensPerSecond,
            userSecondsPerStep: times.userSeconds, systemSecondsPerStep: times.systemSeconds,
            peakResidentMegabytes: PeakMemory.residentMegabytes(),
            peakTensorMegabytes: Double(Storage.peakLiveBytes) / 1_048_576, modelFlopsPerToken: flopsPerToken, gflops: gflops,
            peakGflops: peak, fractionOfPeak: gflops / peak)
        if json {
            print(try BenchOutput.json(report))
        } else {
            print(String(
                format: "%@ %@ %@ %d×%d, %d threads, %.1fM parameters: %.1f ms/step (CPU %.1f user + %.1f sys ms), %.0f tokens/s, %.0f GFLOP/s = %.1f %% of %.0f, peak RSS %.0f MB (tensors %.0f MB)",
                mode, precision, config.rawValue, sequenceLength, batchSize, threads, Double(parameters) / 1e6, times.wallSeconds * 1e3,
                times.userSeconds * 1e3, times.systemSeconds * 1e3, tokensPerSecond, gflops, 100 * report.fractionOfPeak, peak,
                report.peakResidentMegabytes, report.peakTensorMegabytes))
        }
    }
}

/// `kiban bench train`: tokens/s of a full masked-LM training step (forward, the head at the masked
/// positions only, backward, AdamW).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Tokens/s of a masked-LM training step and the peak RSS.")

    @OptionGroup var options: ModelBenchOptions

    @Option(help: "Train LoRA adapters of this rank on the workloads' target modules (alpha 2×rank) instead of every weight, as PEFT's LoraConfig.")
    var loraRank: Int?

    func run() throws {
        let model = EsmForMaskedLM(options.config.config, generator: RandomGenerator(seed: 0))
        if let loraRank {
            let configuration = LoRAConfiguration(
                rank: loraRank, alpha: Float(2 * loraRank), targetModules: BenchWorkloads.standard.lora.targetModules.map { "\($0)$" })
            try LoRA.apply(to: model, configuration: configuration, generator: RandomGenerator(seed: 1))
        }
        let optimizer = AdamW(buffer: ParameterBuffer(module: model), learningRate: BenchWorkloads.standard.learningRate)
        let (ids, labels) = options.batch()
        let step = {
            optimizer.zeroGradients()
            model.maskedLoss(hidden: model.esm(ids), labels: labels).backward()
            optimizer.update()
        }
        try options.report(
            mode: loraRank == nil ? "train" : "lora", precision: options.precision.rawValue, parameters: optimizer.buffer.count,
            times: options.time(step), training: true)
    }
}

/// `kiban bench infer`: tokens/s of a forward pass without the tape, in evaluation mode.
struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer", abstract: "Tokens/s of masked-LM inference (no tape) and the peak RSS.")

    @OptionGroup var options: ModelBenchOptions

    @Option(help: "Run every Linear layer quantised: int8 (W8A8, per-channel weights, per-token activations).")
    var quantize: Quantization?

    @Option(help: "Encode the proteins of this FASTA file, or of a CSV's 'sequence' column, as kiban infer batches them (sorted by length, 16,384 tokens per batch, truncated to the model's positions), instead of the fixed batch.")
    var input: String?

    @Option(help: "With --input: batches packed without padding, or padded.")
    var layout: BatchLayout = .packed

    func run() throws {
        let model = EsmForMaskedLM(options.config.config, generator: RandomGenerator(seed: 0))
        model.eval()
        if let quantize { try model.quantizeLinears(to: quantize) }
        if let input { return try encodeFile(input, model: model) }
        let (ids, _) = options.batch()
        let times = options.time { _ = withNoGrad { model(ids) } }
        try options.report(
            mode: "infer", precision: quantize?.rawValue ?? options.precision.rawValue, parameters: model.parameterCount, times: times,
            training: false)
    }
}

extension BenchInfer {
    /// Tokens/s of the encoder over every protein of `path`, batched as `kiban infer` does.
    func encodeFile(_ path: String, model: EsmForMaskedLM) throws {
        let residues = path.hasSuffix(".csv")
            ? try CSVTable.read(path: path, requiredColumns: ["sequence"]).strings("sequence")
            : try FASTAReader.readAll(path: path, policy: .mapToUnknown).map(\.sequence)
        let limit = model.esm.config.maximumPositions
        let sequences = residues.map { Array(ProteinAlphabet.encode(String($0.prefix(limit - 2)))) }
        let tokens = sequences.map(\.count).reduce(0, +)
        let pass = EncoderPass(
            encoder: model.esm, padID: model.esm.config.padTokenID, limit: limit, batching: .tokens(16_384), layout: layout)
        let times = options.time { _ = pass.encode(sequences, layers: [model.esm.layers.count]) }
        let padded = pass.batching.batches(sequences.map(\.count).sorted(), layout: .padded).map { batch in
            batch.count * sequences.map(\.count).sorted()[batch.upperBound - 1]
        }.reduce(0, +)
        print(String(
            format: "infer %@ %@ over %@: %d sequences, %d tokens (%.1f %% more padded), %.2f s, %.0f tokens/s, peak RSS %.0f MB",
            layout.rawValue, options.config.rawValue, path, sequences.count, tokens, 100 * Double(padded - tokens) / Double(tokens),
            times.wallSeconds, Double(tokens) / times.wallSeconds, PeakMemory.residentMegabytes()))
    }
}

extension Quantization: ExpressibleByArgument {}
extension GEMMPrecision: ExpressibleByArgument {}
