import ArgumentParser
import Foundation
import KibanTensor
import KibanTrain

/// `kiban finetune`: trains a model as a run config describes, with `--set` overrides.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune (or pre-train) a model from a run config: kiban finetune --config Configs/<run>.yaml [--set key.path=value …]",
        discussion: """
            Writes last.h5/best.h5 checkpoints, metrics.jsonl, curves.svg and summary.json to run.output_dir, \
            and resumes from last.h5 when it exists (run.resume). Example: \
            kiban finetune --config Configs/amp-esm-finetune.yaml --set optimizer.lr=5e-4 --set run.seed=1
            """)

    @Option(help: "Run config (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set train.epochs=3 (repeatable).")
    var overrides: [String] = []

    @Option(help: "Matrix products in float32 or bf16 mixed precision; short for --set train.precision=….")
    var precision: GEMMPrecision?

    @Flag(help: "Check the config and data, build the model, and stop before training.")
    var dryRun = false

    func run() throws {
        let settings = overrides + (precision.map { ["train.precision=\($0.rawValue)"] } ?? [])
        let configuration = try RunConfiguration.load(path: config, overrides: settings)
        if configuration.run.threads > 0 { Threading.threadCount = configuration.run.threads }
        let data = try Trainer.loadData(for: configuration)
        print("\(configuration.run.name): \(data.train.count) train, \(data.validation.count) validation, "
              + "\(data.test.count) test examples from \(configuration.data.train)")
        let trainer = try Trainer(config: configuration, data: data)
        print("\(configuration.run.name): \(trainer.baseReport)")
        guard !dryRun else { return }
        let summary = try trainer.run()
        print("\(configuration.run.name): best update \(summary.bestStep) of \(summary.steps); "
              + summary.metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
              + String(format: "; %.1f s → %@", summary.wallSeconds, configuration.run.outputDir))
        print(String(
            format: "%@: peak memory %.0f MB resident, %.0f MB of it tensors at once", configuration.run.name,
            PeakMemory.residentMegabytes(), Double(Storage.peakLiveBytes) / 1_048_576))
    }
}
