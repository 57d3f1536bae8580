import Foundation
import KibanData
import KibanNN
import KibanTensor

/// The folder a `kiban finetune` run writes (`run.output_dir`), as inference reads it back:
///
/// ```
/// best.h5, last.h5     checkpoints (model weights; attributes run_config, task_info, …)
/// task.json            TaskInfo: architecture, tokenizer, label names, target mean/scale
/// tokenizer.json …     BERT runs: the tokenizer files of the base model, copied
/// adapter/             LoRA runs: the PEFT adapter folder
/// summary.json, metrics.jsonl, curves.svg
/// ```
public enum RunFolder {
    /// Files of a Hugging Face tokenizer that a BERT run copies next to its checkpoints.
    public static let tokenizerFiles = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]

    /// Writes `task.json` and, for BERT runs, copies the base model's tokenizer files into `folder`.
    static func writeTaskFiles(_ info: TaskInfo, config: RunConfiguration, to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(info).write(to: folder.appendingPathComponent("task.json"), options: .atomic)
        guard config.model.family == .bert else { return }
        let source = URL(fileURLWithPath: config.model.path)
        for name in tokenizerFiles where FileManager.default.fileExists(atPath: source.appendingPathComponent(name).path) {
            let target = folder.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: target)
        }
    }

    /// The run config and task info of a run folder, from `task.json` and the checkpoint's attributes.
    public static func description(of folder: URL, checkpoint: String = "best.h5") throws -> (RunConfiguration, TaskInfo) {
        let checkpointURL = folder.appendingPathComponent(checkpoint)
        guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
            throw ConfigTree.ConfigError("\(folder.path): no \(checkpoint) (is this a folder that kiban finetune wrote?)")
        }
        let metadata = try Checkpoint.metadata(at: checkpointURL)
        let config: RunConfiguration
        do {
            config = try RunConfiguration.stored(json: metadata.runConfig, file: checkpointURL.path)
        } catch {
            throw ConfigTree.ConfigError("\(checkpointURL.path): attribute 'run_config' does not decode (\(error))")
        }
        let taskFile = folder.appendingPathComponent("task.json")
        let infoData = FileManager.default.fileExists(atPath: taskFile.path) ? try Data(contentsOf: taskFile) : Data(metadata.taskInfo.utf8)
        do {
            return (config, try JSONDecoder().decode(TaskInfo.self, from: infoData))
        } catch {
            throw ConfigTree.ConfigError(
                "\(folder.path): no readable task.json or task_info attribute (written by kiban finetune since 0.2; \(error))")
        }
    }

    /// The tokenizer a run folder's task info names.
    public static func tokenizer(_ info: TaskInfo, in folder: URL) throws -> SequenceTokenizer {
        switch info.tokenizer {
        case "protein", "composition": return .protein
        case "wordpiece": return try SequenceTokenizer.load(folder: folder)
        case let other:
            throw ConfigTree.ConfigError("\(folder.path)/task.json: tokenizer '\(other)' is not protein, wordpiece or composition")
        }
    }

    /// The task model of a run folder with its checkpoint loaded (LoRA adapters attached as the run
    /// trained them, then merged into the base weights when `merge` is set).
    public static func load(
        _ folder: URL, checkpoint: String = "best.h5", merge: Bool = false
    ) throws -> (model: TaskModel, config: RunConfiguration, info: TaskInfo, tokenizer: SequenceTokenizer) {
        let (config, info) = try description(of: folder, checkpoint: checkpoint)
        guard config.adapter.descriptors.isEmpty else {
            throw ConfigTree.ConfigError(
                "\(folder.path): trained with a descriptor adapter (adapter.descriptors), which inference and evaluation do not read yet")
        }
        let tokenizer = try self.tokenizer(info, in: folder)
        var building = config
        building.model.elementFeatures = ""
        let empty = TrainingData(train: [], validation: [], test: [], fileHashes: [:])
        let generator = RandomGenerator(seed: 0)
        let task = try TaskModelBuilder.build(building, architecture: info.architecture, data: empty, tokenizer: tokenizer, generator: generator)
        if config.lora.enabled { try LoRA.apply(to: task.module, configuration: config.lora.configuration, generator: generator) }
        try Checkpoint.load(from: folder.appendingPathComponent(checkpoint), into: task.module)
        if merge { task.module.mergeAdapters() }
        task.module.eval()
        return (task, config, info, tokenizer)
    }
}
