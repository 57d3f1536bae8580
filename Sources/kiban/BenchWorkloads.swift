import ArgumentParser
import KibanModels

// Dim legend: d hidden size, i intermediate size, L layers, T tokens per sequence, V vocabulary.

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

    /// Model FLOPs of a forward pass per token, counting each multiply-add as 2: the Linear layers
    /// (8d² + 4di per layer), attention's two products over T keys (4Td per layer) and the masked-LM
    /// head on every token (2d² + 2dV). A training step counts 3× this (forward, and a backward
    /// twice as costly), the usual convention, whatever work an implementation skips.
    func forwardFlopsPerToken(sequenceLength: Int) -> Double {
        let config = config
        let (d, i, layers) = (Double(config.hiddenSize), Double(config.intermediateSize), Double(config.layerCount))
        let perLayer = 8 * d * d + 4 * d * i + 4 * Double(sequenceLength) * d
        return layers * perLayer + 2 * d * d + 2 * d * Double(config.vocabularySize)
    }
}

/// The benchmark workloads, defined once: `kiban bench train` and `bench infer` run them, and
/// `Benchmarks/compare_torch.py` reads them (`kiban bench workloads --json`) to build the same
/// workload in PyTorch + transformers + PEFT.
struct BenchWorkloads: Codable {
    struct Model: Codable {
        let name: String
        let hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int
        let vocabularySize: Int, maximumPositions: Int, maskTokenID: Int, padTokenID: Int
        let tokenDropout: Bool
        /// Model FLOPs per token at the default sequence length: forward, and a training step (3×).
        let forwardFlopsPerToken: Double, trainingFlopsPerToken: Double
    }

    /// LoRA as PEFT's `LoraConfig(r: rank, lora_alpha: alpha, lora_dropout: 0, target_modules: targetModules)`.
    struct LoRA: Codable {
        let rank: Int, alpha: Float, targetModules: [String]
    }

    let models: [Model]
    let sequenceLength: Int, batchSize: Int
    /// The batch: `<cls>` (0), residues drawn uniformly from ids 4..<24, `<eos>` (2); this share of
    /// the residues replaced by `<mask>`, each with its residue as the label (−100 elsewhere).
    let maskProbability: Double
    let lora: LoRA
    /// AdamW with PyTorch's defaults (β 0.9/0.999, ε 1e-8, weight decay 0.01) and this learning rate.
    let learningRate: Float
    let warmupSteps: Int, timedSteps: Int

    static let standard = BenchWorkloads(
        models: BenchModelSize.allCases.map { size in
            let config = size.config
            let forward = size.forwardFlopsPerToken(sequenceLength: 128)
            return Model(
                name: size.rawValue, hiddenSize: config.hiddenSize, layerCount: config.layerCount, headCount: config.headCount,
                intermediateSize: config.intermediateSize, vocabularySize: config.vocabularySize,
                maximumPositions: config.maximumPositions, maskTokenID: config.maskTokenID, padTokenID: config.padTokenID,
                tokenDropout: config.tokenDropout, forwardFlopsPerToken: forward, trainingFlopsPerToken: 3 * forward)
        },
        sequenceLength: 128, batchSize: 16, maskProbability: 0.15,
        lora: LoRA(rank: 8, alpha: 16, targetModules: ["query", "value"]), learningRate: 1e-4, warmupSteps: 2, timedSteps: 5)
}

/// `kiban bench workloads`: prints the workload definitions.
struct BenchWorkloadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workloads", abstract: "The benchmark workloads (model sizes, batch, LoRA, optimizer) as JSON.")

    func run() throws {
        print(try BenchOutput.json(BenchWorkloads.standard))
    }
}
