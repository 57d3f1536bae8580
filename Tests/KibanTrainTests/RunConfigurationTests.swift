import Foundation
import Testing

@testable import KibanTrain

@Suite struct RunConfigurationTests {
    @Test func defaultsFillWhatTheFileOmits() throws {
        let config = try RunConfiguration.parse(yaml: "train:\n  batch_size: 8\nlora:\n  enabled: true\n")
        #expect(config.train.batchSize == 8)
        #expect(config.train.epochs == RunConfiguration().train.epochs)
        #expect(config.lora.enabled && config.lora.r == 8)
    }

    @Test func overridesApplyAfterTheFile() throws {
        let config = try RunConfiguration.parse(
            yaml: "optimizer:\n  lr: 0.01\n", overrides: ["optimizer.lr=5e-4", "lora.target_modules=[query, key]", "run.name=x"])
        #expect(config.optimizer.lr == 5e-4)
        #expect(config.lora.targetModules == ["query", "key"])
        #expect(config.run.name == "x")
    }

    @Test func unknownKeysAreNamed() {
        #expect(throws: Error.self) { try RunConfiguration.parse(yaml: "train:\n  lerning_rate: 1\n", file: "c.yaml") }
        do {
            _ = try RunConfiguration.parse(yaml: "train:\n  bach_size: 1\n", file: "c.yaml")
        } catch {
            #expect("\(error)".contains("c.yaml: unknown key 'train.bach_size' (did you mean 'train.batch_size'?)"))
        }
        do {
            _ = try RunConfiguration.parse(yaml: "", overrides: ["optimiser.lr=1"])
        } catch {
            #expect("\(error)".contains("--set optimiser.lr=1: unknown key 'optimiser'"))
        }
    }

    @Test func mistypedValuesNameTheKey() {
        do {
            _ = try RunConfiguration.parse(yaml: "train:\n  batch_size: many\n", file: "c.yaml")
            Issue.record("a text batch size was accepted")
        } catch {
            #expect("\(error)".contains("c.yaml: key 'train.batch_size'"))
        }
        do {
            _ = try RunConfiguration.parse(yaml: "task:\n  kind: clustering\n", file: "c.yaml")
            Issue.record("an unknown task was accepted")
        } catch {
            #expect("\(error)".contains("key 'task.kind'"))
        }
        do {
            _ = try RunConfiguration.parse(yaml: "task:\n  loss: hinge\n", file: "c.yaml")
            Issue.record("an unknown regression loss was accepted")
        } catch {
            #expect("\(error)".contains("key 'task.loss'"))
        }
    }
}

/// The run configs in `Configs/` (top-level `run:`) parse and validate.
@Suite struct CommittedRunConfigTests {
    @Test func everyCommittedRunConfigLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Configs").standardizedFileURL
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { name in
            name.hasSuffix(".yaml") && (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))?.contains("\nrun:\n") == true
        }
        #expect(files.count >= 5)
        for file in files { _ = try RunConfiguration.load(path: folder.appendingPathComponent(file).path) }
    }
}
