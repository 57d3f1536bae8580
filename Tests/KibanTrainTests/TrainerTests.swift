import Foundation
import KibanFormats
import KibanModels
import Testing

@testable import KibanTrain

/// The loop's guarantees: exact resume after a kill, early stopping on the best checkpoint, a stop
/// on non-finite values, and checkpoints that survive a crash mid-write.
@Suite("Trainer")
struct TrainerTests {
    /// Runs `config` to the end, returning the loss of every update.
    func losses(_ config: RunConfiguration) throws -> (losses: [Int: Double], summary: TrainingSummary) {
        let trainer = try Trainer(config: config)
        var losses: [Int: Double] = [:]
        trainer.onStep = { losses[$0.step] = $0.loss }
        let summary = try trainer.run()
        return (losses, summary)
    }

    @Test func killedRunResumesBitForBit() async throws {
        let folder = try TrainerFixture.folder("resume")
        try TrainerFixture.writeInputs(in: folder)
        let full = try losses(TrainerFixture.maskedLM(in: folder, output: "full"))
        #expect(full.losses.count == 10)

        // The child trains until update 7 and dies without cleaning up; last.h5 holds update 4.
        await #expect(processExitsWith: .exitCode(9)) {
            let folder = try TrainerFixture.folder("resume", clean: false)
            let trainer = try Trainer(config: TrainerFixture.maskedLM(in: folder, output: "killed"))
            trainer.onStep = { if $0.step == 7 { _exit(9) } }
            try trainer.run()
        }
        let last = folder.appendingPathComponent("killed/last.h5")
        #expect(try Checkpoint.load(from: last, into: Trainer(config: TrainerFixture.maskedLM(in: folder, output: "probe")).task.module).step == 4)

        let resumed = try losses(TrainerFixture.maskedLM(in: folder, output: "killed"))
        #expect(resumed.losses.keys.sorted() == Array(5...10))
        for step in 5...10 {
            #expect(resumed.losses[step]!.bitPattern == full.losses[step]!.bitPattern, "update \(step)")
        }
        #expect(resumed.summary.metrics == full.summary.metrics)
        let logged = MetricsLog(url: folder.appendingPathComponent("killed/metrics.jsonl")).records()
            .filter { $0["kind"] as? String == "train" }.compactMap { $0["step"] as? Int }
        #expect(logged == Array(1...10), "the log keeps each update once")
    }

    @Test func earlyStoppingRestoresTheBestCheckpoint() throws {
        let folder = try TrainerFixture.folder("early")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        (config.train.epochs, config.train.evalEvery, config.train.earlyStoppingPatience) = (40, 2, 3)
        config.optimizer.lr = 3e-3
        let (_, summary) = try losses(config)
        let evaluations = MetricsLog(url: folder.appendingPathComponent("run/metrics.jsonl")).records()
            .filter { $0["kind"] as? String == "eval" }
        let best = evaluations.min { ($0["validation_loss"] as! Double) < ($1["validation_loss"] as! Double) }!
        #expect(summary.steps < 40 * 4, "training stopped early")
        #expect(summary.bestStep == best["step"] as? Int)
        #expect(summary.steps == summary.bestStep + 3 * 2, "three evaluations without improvement")
        let restored = try #require(summary.metrics["validation_loss"]), logged = best["validation_loss"] as! Double
        #expect(Swift.abs(restored - logged) <= 1e-12 * logged, "the restored model is the best one (the log keeps ~16 digits)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run/curves.svg").path))
        let rerun = try Trainer(config: config).run()
        #expect(rerun.steps == summary.steps, "running the command again resumes a stopped run and stays stopped")
        #expect(rerun.metrics == summary.metrics)
    }

    @Test func nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint() throws {
        let folder = try TrainerFixture.folder("nan")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        (config.optimizer.lr, config.train.clipNorm, config.train.checkpointEvery) = (1e9, 0, 1)
        config.schedule.kind = "constant"
        do {
            _ = try losses(config)
            Issue.record("a learning rate of 1e9 trained without a non-finite value")
        } catch let error as TrainingError {
            #expect(error.description.contains("training stopped"))
            #expect(error.description.contains("last.h5"))
            let trainer = try Trainer(config: TrainerFixture.classification(in: folder, output: "probe"))
            let metadata = try Checkpoint.load(from: folder.appendingPathComponent("run/last.h5"), into: trainer.task.module)
            #expect(trainer.task.module.stateDict().values.allSatisfy { $0.toArray().allSatisfy(\.isFinite) })
            #expect(metadata.step >= 1)
        }
    }

    @Test func crashWhileWritingKeepsThePreviousCheckpoint() async throws {
        let folder = try TrainerFixture.folder("crash")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.maskedLM(in: folder, output: "run")
        config.train.maxSteps = 4
        _ = try losses(config)
        let last = folder.appendingPathComponent("run/last.h5")
        let before = try SHA256.hexDigest(ofFile: last)

        await #expect(processExitsWith: .exitCode(3)) {
            let folder = try TrainerFixture.folder("crash", clean: false)
            var config = TrainerFixture.maskedLM(in: folder, output: "run")
            config.train.maxSteps = 4
            let trainer = try Trainer(config: config)
            try trainer.resumeIfPossible()
            _ = try trainer.update([[0, 1, 2, 3]])
            try trainer.saveCheckpoint("last.h5") { _exit(3) }
        }
        #expect(try SHA256.hexDigest(ofFile: last) == before, "the old checkpoint is untouched")
        let trainer = try Trainer(config: config)
        #expect(try Checkpoint.load(from: last, into: trainer.task.module, optimizer: trainer.optimizer, generator: trainer.generator).step == 4)
    }
}

/// LoRA and DoRA runs train only the adapters and the head, and save a PEFT adapter folder.
@Suite("Trainer with adapters")
struct TrainerAdapterTests {
    @Test(arguments: [false, true])
    func adapterRunKeepsTheBaseAndSavesTheAdapter(dora: Bool) throws {
        let folder = try TrainerFixture.folder("adapters-\(dora)")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        (config.lora.enabled, config.lora.useDora, config.lora.r) = (true, dora, 4)
        config.optimizer.lr = 1e-2
        let trainer = try Trainer(config: config)
        let base = trainer.task.module.stateDict().filter { !$0.key.contains("lora_") && !$0.key.hasPrefix("classifier") }
            .mapValues { $0.toArray().map(\.bitPattern) }
        let head = trainer.task.module.stateDict()["classifier.modules_to_save.default.dense.weight"]!.toArray()
        try trainer.run()
        let after = trainer.task.module.stateDict()
        for (name, bits) in base { #expect(after[name]!.toArray().map(\.bitPattern) == bits, "\(name) changed") }
        #expect(after["classifier.modules_to_save.default.dense.weight"]!.toArray() != head, "the adapter's head (modules_to_save) trains")
        #expect(after["classifier.original_module.dense.weight"]!.toArray() == head, "the original head stays")
        let adapter = folder.appendingPathComponent("run/adapter")
        let reloaded = try Trainer(config: TrainerFixture.classification(in: folder, output: "probe")).task.module
        let configuration = try PEFTAdapterFolder.load(into: reloaded, from: adapter)
        #expect(configuration.useDoRA == dora)
        for (name, value) in reloaded.stateDict() where name.contains("lora_") || name.hasPrefix("classifier.modules_to_save.") {
            #expect(value.toArray() == after[name]!.toArray(), "\(name) differs after the PEFT round trip")
        }
    }
}
