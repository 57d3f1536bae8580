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

    /// A checkpoint written before a key existed (here train.precision) still loads, with the default.
    @Test func storedConfigOfAnOlderVersionGetsTheNewDefaults() throws {
        var config = RunConfiguration()
        config.train.batchSize = 5
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var tree = try JSONSerialization.jsonObject(with: encoder.encode(config)) as! [String: Any]
        var training = tree["train"] as! [String: Any]
        training["precision"] = nil
        tree["train"] = training
        let older = String(decoding: try JSONSerialization.data(withJSONObject: tree), as: UTF8.self)
        #expect(!older.contains("precision"))
        let stored = try RunConfiguration.stored(json: older, file: "best.h5")
        #expect(stored.train.batchSize == 5 && stored.train.precision == .float32)
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
        for file in files {
            let config = try RunConfiguration.load(path: folder.appendingPathComponent(file).path)
            for path in [config.data.train, config.data.validation, config.data.test, config.model.elementFeatures] where !path.isEmpty {
                #expect(FileManager.default.fileExists(atPath: path), "\(file): data file \(path) does not exist")
            }
        }
    }
}

/// `${KIBAN_DATA}` and other `${NAME}` in config values.
@Suite struct ConfigVariableTests {
    static let yaml = "data:\n  train: ${KIBAN_DATA}/protein/x.csv\nlora:\n  target_modules: [\"${LAYER}\", value]\n"

    @Test func variablesExpandInStringsAndLists() throws {
        let tree = try ConfigTree.parse(yaml: Self.yaml, file: "c.yaml")
            .expandingEnvironment(file: "c.yaml", environment: ["KIBAN_DATA": "/data/kiban", "LAYER": "query"])
        let config = try tree.overlaid(on: ConfigTree(encoding: RunConfiguration(), keys: .convertToSnakeCase),
                                       schema: ConfigTree(encoding: RunConfiguration(), keys: .convertToSnakeCase))
            .decode(RunConfiguration.self, file: "c.yaml", keys: .convertFromSnakeCase)
        #expect(config.data.train == "/data/kiban/protein/x.csv")
        #expect(config.lora.targetModules == ["query", "value"])
    }

    @Test func kibanDataFallsBackToTheDataFolderBesideTheCheckout() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
        let checkout = base.appendingPathComponent("checkout")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent("data"), withIntermediateDirectories: true)
        let tree = try ConfigTree.parse(yaml: "data:\n  train: ${KIBAN_DATA}/a.csv\n", file: "c.yaml")
        let local = try tree.expandingEnvironment(file: "c.yaml", environment: [:], from: checkout)
        #expect((local.root["data"] as? [String: Any])?["train"] as? String == checkout.path + "/data/a.csv")
        try FileManager.default.createDirectory(at: base.appendingPathComponent("shared/data"), withIntermediateDirectories: true)
        let shared = try tree.expandingEnvironment(file: "c.yaml", environment: [:], from: checkout)
        #expect((shared.root["data"] as? [String: Any])?["train"] as? String == base.path + "/shared/data/a.csv")
    }

    @Test func anUnresolvedVariableNamesTheKeyAndTheVariable() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let tree = try ConfigTree.parse(yaml: Self.yaml, file: "c.yaml")
        do {
            _ = try tree.expandingEnvironment(file: "c.yaml", environment: ["LAYER": "query"], from: empty)
            Issue.record("an unset KIBAN_DATA with no data folder was accepted")
        } catch {
            #expect("\(error)".contains("c.yaml: key 'data.train': ${KIBAN_DATA}: $KIBAN_DATA is not set"))
            #expect("\(error)".contains("Examples/fetch_data.sh"))
        }
        do {
            _ = try tree.expandingEnvironment(file: "c.yaml", environment: ["KIBAN_DATA": "/d"], from: empty)
            Issue.record("an unset variable was accepted")
        } catch {
            #expect("\(error)".contains("key 'lora.target_modules': ${LAYER}: environment variable LAYER is not set"))
        }
    }
}
