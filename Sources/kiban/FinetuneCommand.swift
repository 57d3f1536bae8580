import ArgumentParser
import Foundation
import KibanDistributed
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
            kiban finetune --config Configs/amp-esm-finetune.yaml --set optimizer.lr=5e-4 --set run.seed=1. \
            Under mpirun -np N it trains data parallel over N ranks (global batch = batch_size × N × accumulation; \
            train.zero_stage 1 or 2 shards the optimizer), with cores / ranks-per-node threads per rank unless \
            run.threads or KIBAN_NUM_THREADS says otherwise; a failing rank stops the whole run.
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
        try Launch.run("kiban finetune", train)
    }

    /// Loads, builds and trains; under `mpirun` every rank runs it and rank 0 reports.
    private func train(_ communicator: Communicator) throws {
        let settings = overrides + (precision.map { ["train.precision=\($0.rawValue)"] } ?? [])
        let configuration = try RunConfiguration.load(path: config, overrides: settings)
        if configuration.run.threads > 0 {
            Threading.threadCount = configuration.run.threads
        } else if communicator.size > 1 {
            Self.shareCoresAmongRanks()
        }
        let report = communicator.rank == 0 ? { (line: String) in print(line) } : { _ in }
        let data = try Trainer.loadData(for: configuration)
        report("\(configuration.run.name): \(data.train.count) train, \(data.validation.count) validation, "
               + "\(data.test.count) test examples from \(configuration.data.train)")
        let trainer = try Trainer(config: configuration, data: data, communicator: communicator)
        report("\(configuration.run.name): \(trainer.baseReport)")
        if communicator.size > 1 {
            let split = configuration.train.tensorParallel, dataRanks = communicator.size / split
            report("\(configuration.run.name): \(communicator.size) ranks × \(Threading.threadCount) threads, "
                   + (split > 1 ? "tensor parallel over \(split) × " : "") + "data parallel over \(dataRanks)"
                   + (configuration.train.zeroStage > 0 ? " with ZeRO-\(configuration.train.zeroStage)" : "")
                   + "; global batch \(trainer.globalBatch) = \(configuration.train.batchSize) × \(dataRanks) ranks × \(configuration.train.accumulation)"
                   + (split > 1 ? "; rank 0 trains \(trainer.trainableParameters.here) of \(trainer.trainableParameters.whole) parameters" : ""))
        }
        guard !dryRun else { return }
        let summary = try trainer.run()
        report("\(configuration.run.name): best update \(summary.bestStep) of \(summary.steps); "
               + summary.metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
               + String(format: "; %.1f s → %@", summary.wallSeconds, configuration.run.outputDir))
        report(String(
            format: "%@: peak memory %.0f MB resident, %.0f MB of it tensors at once", configuration.run.name,
            PeakMemory.residentMegabytes(), Double(Storage.peakLiveBytes) / 1_048_576))
    }

    /// Under `mpirun`, unless `KIBAN_NUM_THREADS` says otherwise: each rank gets the node's cores
    /// divided by the ranks on it (and no more than it may run on).
    static func shareCoresAmongRanks() {
        guard ProcessInfo.processInfo.environment["KIBAN_NUM_THREADS"] == nil else { return }
        let cores = min(ProcessInfo.processInfo.activeProcessorCount, ProcessInfo.processInfo.processorCount / Launch.ranksOnThisNode)
        Threading.threadCount = max(1, cores)
    }
}
