import ArgumentParser
import Foundation
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor

/// Named encoder sizes for the model benchmarks (ESM-2 architecture, 33-token alphabet).
enum BenchModelSize: String, ExpressibleByArgument, CaseIterable, Codable {
    case tiny, esm2_8m = "esm2-8m", base, esm2_150m = "esm2-150m"

    var config: EsmConfig {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount) =
            switch self {
            case .tiny: (128, 2, 4)
            case .esm2_8m: (320, 6, 20)
            case .base: (512, 8, 8)
            case .esm2_150m: (640, 30, 20)
            }
        config.intermediateSize = 4 * config.hiddenSize
        return config
    }
}

/// Options shared by `bench train` and `bench infer`.
struct ModelBenchOptions: ParsableArguments {
    @Option(help: "Model size: \(BenchModelSize.allCases.map(\.rawValue).joined(separator: ", ")).")
    var config: BenchModelSize = .esm2_8m

    @Option(help: "Tokens per sequence.")
    var sequenceLength = 128

    @Option(help: "Sequences per batch.")
    var batchSize = 16

    @Option(help: "Timed steps per measurement (the median is reported).")
    var steps = 5

    @Option(help: "Untimed warm-up steps.")
    var warmup = 2

    @Flag(help: "Print JSON instead of a line of text.")
    var json = false

    func validate() throws {
        guard sequenceLength > 2, batchSize > 0, steps > 0, warmup >= 0 else {
            throw ValidationError("--sequence-length must exceed 2; --batch-size and --steps must be positive")
        }
    }

    /// A reproducible masked-LM batch: <cls> residues <eos>, 15% of residues masked with labels.
    func batch() -> (ids: IndexTensor, labels: IndexTensor) {
        let generator = RandomGenerator(seed: 42)
        var ids: [Int] = [], labels: [Int] = []
        for _ in 0..<batchSize {
            for position in 0..<sequenceLength {
                let residue = 4 + Int(generator.next() % 20)
                let isEnd = position == 0 || position == sequenceLength - 1
                let masked = !isEnd && generator.uniform() < 0.15
                ids.append(position == 0 ? 0 : position == sequenceLength - 1 ? 2 : masked ? 32 : residue)
                labels.append(masked ? residue : -100)
            }
        }
        return (IndexTensor(shape: [batchSize, sequenceLength], values: ids), IndexTensor(labels))
    }

    struct Report: Codable {
        let mode: String
        /// "float32", or the quantisation of the Linear layers ("int8").
        let precision: String
        let config: BenchModelSize
        let sequenceLength: Int
        let batchSize: Int
        let threads: Int
        let parameters: Int
        let secondsPerStep: Double
        let tokensPerSecond: Double
        let peakResidentMegabytes: Double
    }

    func report(mode: String, precision: String = "float32", parameters: Int, seconds: Double) throws {
        let report = Report(
            mode: mode, precision: precision, config: config, sequenceLength: sequenceLength, batchSize: batchSize, threads: Threading.threadCount,
            parameters: parameters, secondsPerStep: seconds, tokensPerSecond: Double(batchSize * sequenceLength) / seconds,
            peakResidentMegabytes: PeakMemory.residentMegabytes())
        if json {
            print(try BenchOutput.json(report))
        } else {
            print(String(
                format: "%@ %@ %@ %d×%d, %d threads, %.1fM parameters: %.1f ms/step, %.0f tokens/s, peak RSS %.0f MB",
                mode, precision, config.rawValue, sequenceLength, batchSize, report.threads, Double(parameters) / 1e6, seconds * 1e3,
                report.tokensPerSecond, report.peakResidentMegabytes))
        }
    }
}

/// `kiban bench train`: tokens/s of a full masked-LM training step (forward, the head at the masked
/// positions only, backward, AdamW).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Tokens/s of a masked-LM training step and the peak RSS.")

    @OptionGroup var options: ModelBenchOptions

    @Option(help: "Train LoRA adapters of this rank on query/value (alpha 2×rank) instead of every weight, as PEFT's LoraConfig.")
    var loraRank: Int?

    func run() throws {
        let model = EsmForMaskedLM(options.config.config, generator: RandomGenerator(seed: 0))
        if let loraRank {
            let configuration = LoRAConfiguration(rank: loraRank, alpha: Float(2 * loraRank), targetModules: ["query$", "value$"])
            try LoRA.apply(to: model, configuration: configuration, generator: RandomGenerator(seed: 1))
        }
        let optimizer = AdamW(buffer: ParameterBuffer(module: model), learningRate: 1e-4)
        let (ids, labels) = options.batch()
        let step = {
            optimizer.zeroGradients()
            model.maskedLoss(hidden: model.esm(ids), labels: labels).backward()
            optimizer.update()
        }
        let seconds = Timing.interleavedMedians(warmup: options.warmup, repeats: options.steps, [step])[0]
        try options.report(mode: loraRank == nil ? "train" : "lora", parameters: optimizer.buffer.count, seconds: seconds)
    }
}

/// `kiban bench infer`: tokens/s of a forward pass without the tape, in evaluation mode.
struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer", abstract: "Tokens/s of masked-LM inference (no tape) and the peak RSS.")

    @OptionGroup var options: ModelBenchOptions

    @Option(help: "Run every Linear layer quantised: int8 (W8A8, per-channel weights, per-token activations).")
    var quantize: Quantization?

    func run() throws {
        let model = EsmForMaskedLM(options.config.config, generator: RandomGenerator(seed: 0))
        model.eval()
        if let quantize { try model.quantizeLinears(to: quantize) }
        let (ids, _) = options.batch()
        let seconds = Timing.interleavedMedians(warmup: options.warmup, repeats: options.steps, [{ _ = withNoGrad { model(ids) } }])[0]
        try options.report(mode: "infer", precision: quantize?.rawValue ?? "float32", parameters: model.parameterCount, seconds: seconds)
    }
}

extension Quantization: ExpressibleByArgument {}
