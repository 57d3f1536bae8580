import Foundation
import KibanData
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import KibanTrain

/// How `kiban infer --model PATH` is resolved.
public struct ModelOptions: Sendable {
    /// A PEFT adapter folder to apply on top of the model.
    public var adapter: String?
    /// Fold LoRA/DoRA adapters into the base weights (same outputs, base-model speed).
    public var merge = false
    /// A model YAML for a Kiban checkpoint that carries no task description.
    public var modelConfig: String?
    /// Run folders: the checkpoint to load.
    public var checkpoint = "best.h5"
    /// Quantise every Linear layer after loading (W8A8: int8 weights per output channel, int8
    /// activations per token); adapters are merged first.
    public var quantization: Quantization?

    public init(
        adapter: String? = nil, merge: Bool = false, modelConfig: String? = nil, checkpoint: String = "best.h5",
        quantization: Quantization? = nil
    ) {
        (self.adapter, self.merge, self.modelConfig, self.checkpoint, self.quantization) = (adapter, merge, modelConfig, checkpoint, quantization)
    }
}

extension InferenceModel {
    /// Loads a run folder that `kiban finetune` wrote, a Hugging Face folder (`config.json` +
    /// `model.safetensors`), or a Kiban checkpoint file, then applies `options.adapter`.
    public static func load(_ path: String, options: ModelOptions = ModelOptions()) throws -> InferenceModel {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw InferenceError("--model '\(path)': no such file or folder")
        }
        let model: InferenceModel
        if isFolder.boolValue && FileManager.default.fileExists(atPath: url.appendingPathComponent(options.checkpoint).path) {
            model = try runFolder(url, checkpoint: options.checkpoint, merge: options.merge && options.adapter == nil)
        } else if isFolder.boolValue && FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) {
            model = try huggingFace(url)
        } else if !isFolder.boolValue {
            model = try checkpointFile(url, modelConfig: options.modelConfig, merge: options.merge && options.adapter == nil)
        } else {
            throw InferenceError("--model '\(path)': neither a run folder (\(options.checkpoint)) nor a Hugging Face folder (config.json)")
        }
        if let adapter = options.adapter {
            try PEFTAdapterFolder.load(into: model.module, from: URL(fileURLWithPath: adapter))
            if options.merge { model.module.mergeAdapters() }
            model.module.eval()
        }
        if let quantization = options.quantization { try model.module.quantizeLinears(to: quantization) }
        return model
    }

    /// A run folder: the task model rebuilt from `task.json` with its checkpoint.
    static func runFolder(_ folder: URL, checkpoint: String, merge: Bool) throws -> InferenceModel {
        let (task, config, info, tokenizer) = try RunFolder.load(folder, checkpoint: checkpoint, merge: merge)
        let network = task.network
        let headKind: HeadKind? = switch info.kind {
        case .sequenceClassification, .compositionClassification: .classification(labels: info.labelNames)
        case .sequenceRegression, .compositionRegression: .regression(mean: info.targetMean, scale: info.targetScale)
        case .tokenClassification: .tokenClassification(labels: info.labelNames)
        case .maskedLM: nil
        }
        let (padID, maskID) = specialIDs(tokenizer: tokenizer)
        let sha = try SHA256.hexDigest(ofFile: folder.appendingPathComponent(checkpoint))
        return InferenceModel(
            summary: "run '\(config.run.name)' (\(info.kind.rawValue), \(config.model.family.rawValue)) from \(folder.path)/\(checkpoint)",
            module: network.module, tokenizer: info.tokenizer == "composition" ? nil : tokenizer, encoder: network.encoder,
            maskedLM: network.maskedLM, maskTokenID: maskID, head: network.head, headKind: headKind, composition: network.composition,
            padID: padID, maximumTokens: network.encoder?.maximumTokens ?? Int.max, weightsSHA256: sha)
    }

    /// A Kiban checkpoint file: with task information, as its run folder; without, from `--model-config`.
    static func checkpointFile(_ url: URL, modelConfig: String?, merge: Bool) throws -> InferenceModel {
        let metadata = try Checkpoint.metadata(at: url)
        if metadata.taskInfo != "{}" || FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent("task.json").path) {
            return try runFolder(url.deletingLastPathComponent(), checkpoint: url.lastPathComponent, merge: merge)
        }
        guard let modelConfig else {
            throw InferenceError("\(url.path): the checkpoint does not describe its model (written before task_info); pass --model-config Configs/<model>.yaml")
        }
        guard case .esm(let config) = try ModelConfigFile.load(path: modelConfig) else {
            throw InferenceError("--model-config '\(modelConfig)': only esm model configs can describe a bare checkpoint")
        }
        let tensors = try Checkpoint.modelTensors(at: url)
        let sha = try SHA256.hexDigest(ofFile: url)
        return try esm(config, tensors: tensors, source: url.path, sha: sha)
    }

    /// A Hugging Face folder: ESM-2 or BERT (masked-LM, sequence classification or bare encoder;
    /// sentence-transformers folders keep their pooling), or a Llama-style causal LM.
    static func huggingFace(_ folder: URL) throws -> InferenceModel {
        struct ModelType: Decodable {
            let modelType: String?
            let id2label: [String: String]?
            enum CodingKeys: String, CodingKey { case modelType = "model_type", id2label }
        }
        let header = try HuggingFaceFolder.config(ModelType.self, in: folder)
        let tensors = try HuggingFaceFolder.tensors(in: folder)
        let sha = try SHA256.hexDigest(ofFile: try HuggingFaceFolder.shardFiles(in: folder)[0])
        switch header.modelType ?? "" {
        case "esm":
            return try esm(try HuggingFaceFolder.config(EsmConfig.self, in: folder), tensors: tensors, source: folder.path, sha: sha)
        case "bert":
            return try bert(folder, tensors: tensors, labels: header.id2label, sha: sha)
        case "llama":
            let model = LlamaForCausalLM(try HuggingFaceFolder.config(LlamaConfig.self, in: folder), generator: RandomGenerator(seed: 0))
            try loadStrict(model, tensors: tensors, source: folder.path)
            return InferenceModel(
                summary: "Llama causal LM from \(folder.path)", module: model, tokenizer: nil, causalLM: model, padID: 0,
                maximumTokens: model.config.maximumPositions, weightsSHA256: sha)
        case let other:
            throw InferenceError("\(folder.path)/config.json: model_type '\(other)' is not esm, bert or llama")
        }
    }

    private static func esm(_ config: EsmConfig, tensors: [String: Tensor], source: String, sha: String) throws -> InferenceModel {
        let generator = RandomGenerator(seed: 0)
        if tensors.keys.contains("lm_head.dense.weight") {
            let model = EsmForMaskedLM(config, generator: generator)
            try loadStrict(model, tensors: tensors, source: source)
            return InferenceModel(
                summary: "ESM-2 masked LM from \(source)", module: model, tokenizer: .protein, encoder: model.esm, maskedLM: model,
                maskTokenID: config.maskTokenID, padID: config.padTokenID, maximumTokens: config.maximumPositions, weightsSHA256: sha)
        }
        let model = EsmModel(config, generator: generator)
        let bare = Dictionary(uniqueKeysWithValues: tensors.map { ($0.key.hasPrefix("esm.") ? String($0.key.dropFirst(4)) : $0.key, $0.value) })
        try loadStrict(model, tensors: bare, source: source)
        return InferenceModel(
            summary: "ESM-2 encoder from \(source)", module: model, tokenizer: .protein, encoder: model, padID: config.padTokenID,
            maximumTokens: config.maximumPositions, weightsSHA256: sha)
    }

    private static func bert(_ folder: URL, tensors: [String: Tensor], labels: [String: String]?, sha: String) throws -> InferenceModel {
        var config = try HuggingFaceFolder.config(BertConfig.self, in: folder)
        let tokenizer = try RunFolder.tokenizer(
            TaskInfo(kind: .maskedLM, architecture: .bert(config), tokenizer: "wordpiece", maxLength: 0, labelNames: []), in: folder)
        let (padID, maskID) = specialIDs(tokenizer: tokenizer)
        let generator = RandomGenerator(seed: 0)
        let weights = tensors.filter { !$0.key.hasSuffix("position_ids") }
        if weights.keys.contains("cls.predictions.transform.dense.weight") {
            let model = BertForMaskedLM(config, generator: generator)
            try loadStrict(model, tensors: weights.filter { !$0.key.hasPrefix("cls.seq_relationship") && !$0.key.hasPrefix("bert.pooler") },
                           source: folder.path)
            return InferenceModel(
                summary: "BERT masked LM from \(folder.path)", module: model, tokenizer: tokenizer, encoder: model.bert, maskedLM: model,
                maskTokenID: maskID, padID: padID, maximumTokens: config.maximumPositions, weightsSHA256: sha)
        }
        if weights.keys.contains("classifier.weight") {
            config.labelCount = weights["classifier.weight"]!.shape[0]
            let model = BertForSequenceClassification(config, generator: generator)
            try loadStrict(model, tensors: weights, source: folder.path)
            let names = (0..<config.labelCount).map { labels?[String($0)] ?? String($0) }
            return InferenceModel(
                summary: "BERT sequence classifier from \(folder.path)", module: model, tokenizer: tokenizer, encoder: model.bert,
                head: { hidden, _ in model.head(hidden) }, headKind: .classification(labels: names), padID: padID,
                maximumTokens: config.maximumPositions, weightsSHA256: sha)
        }
        let hasPooler = weights.keys.contains { $0.hasSuffix("pooler.dense.weight") }
        let model = BertModel(config, pooling: hasPooler, generator: generator)
        let bare = Dictionary(uniqueKeysWithValues: weights.map { ($0.key.hasPrefix("bert.") ? String($0.key.dropFirst(5)) : $0.key, $0.value) })
        try loadStrict(model, tensors: bare, source: folder.path)
        return InferenceModel(
            summary: "BERT encoder from \(folder.path)", module: model, tokenizer: tokenizer, encoder: model,
            sentencePooling: try sentencePooling(in: folder), padID: padID, maximumTokens: config.maximumPositions, weightsSHA256: sha)
    }

    /// The pooling of a sentence-transformers folder (`modules.json`), or nil for a plain folder.
    static func sentencePooling(in folder: URL) throws -> SentencePooling? {
        struct ModuleEntry: Decodable { let path: String; let type: String }
        struct PoolingConfig: Decodable {
            let mean: Bool?, cls: Bool?
            enum CodingKeys: String, CodingKey { case mean = "pooling_mode_mean_tokens", cls = "pooling_mode_cls_token" }
        }
        let modulesURL = folder.appendingPathComponent("modules.json")
        guard let data = try? Data(contentsOf: modulesURL) else { return nil }
        let modules = try JSONDecoder().decode([ModuleEntry].self, from: data)
        guard let poolingModule = modules.first(where: { $0.type.hasSuffix(".Pooling") }) else { return nil }
        let poolingURL = folder.appendingPathComponent(poolingModule.path).appendingPathComponent("config.json")
        let pooling = try JSONDecoder().decode(PoolingConfig.self, from: Data(contentsOf: poolingURL))
        guard pooling.mean == true || pooling.cls == true else {
            throw InferenceError("\(poolingURL.path): only mean or cls pooling is supported")
        }
        return SentencePooling(pooling: pooling.mean == true ? .mean : .first, normalize: modules.contains { $0.type.hasSuffix(".Normalize") })
    }

    private static func loadStrict(_ model: Module, tensors: [String: Tensor], source: String) throws {
        do {
            try model.load(stateDict: tensors, strict: true)
        } catch let report as LoadReport {
            throw InferenceError("\(source): the weights do not match the model:\n\(report)")
        }
    }

    /// The padding and mask ids of a tokenizer.
    static func specialIDs(tokenizer: SequenceTokenizer) -> (pad: Int, mask: Int?) {
        switch tokenizer {
        case .protein: return (ProteinAlphabet.pad, ProteinAlphabet.mask)
        case .wordPiece(let wordPiece), .residueWordPiece(let wordPiece): return (wordPiece.id(of: "[PAD]") ?? 0, wordPiece.id(of: "[MASK]"))
        }
    }
}
