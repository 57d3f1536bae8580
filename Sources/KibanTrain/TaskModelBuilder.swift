import Foundation
import KibanData
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor

// Dim legend: B examples per batch, T tokens, E element slots, C hidden size, L labels, V vocabulary.

/// Builds the network a run config asks for, loads its base weights and wires it to the task's loss.
enum TaskModelBuilder {
    typealias ConfigError = ConfigTree.ConfigError

    /// The tokenizer of the model family (WordPiece from the Hugging Face folder for BERT).
    static func tokenizer(for config: RunConfiguration) throws -> SequenceTokenizer {
        switch config.model.family {
        case .esm, .materials: return .protein
        case .bert: return try SequenceTokenizer.load(folder: URL(fileURLWithPath: config.model.path))
        }
    }

    /// The architecture a run config names: `config.json` of a Hugging Face folder, else the
    /// model YAML (`model.config`), with the task's output count applied.
    static func architecture(for config: RunConfiguration) throws -> ModelConfigFile {
        let outputs = config.task.kind == .sequenceRegression || config.task.kind == .compositionRegression ? 1 : config.task.numLabels
        switch config.model.family {
        case .esm:
            if config.model.initialize == .huggingface {
                return .esm(try HuggingFaceFolder.config(EsmConfig.self, in: URL(fileURLWithPath: config.model.path)))
            }
            guard case .esm(let loaded) = try ModelConfigFile.load(path: try modelConfigPath(config)) else {
                throw ConfigError("key 'model.config': '\(config.model.config)' is not an esm model config")
            }
            return .esm(loaded)
        case .bert:
            guard config.model.initialize == .huggingface else {
                throw ConfigError("key 'model.initialize': the bert family starts from a Hugging Face folder (model.path)")
            }
            var bertConfig = try HuggingFaceFolder.config(BertConfig.self, in: URL(fileURLWithPath: config.model.path))
            bertConfig.labelCount = outputs
            return .bert(bertConfig)
        case .materials:
            guard case .materials(var encoderConfig) = try ModelConfigFile.load(path: try modelConfigPath(config)) else {
                throw ConfigError("key 'model.config': '\(config.model.config)' is not a materials model config")
            }
            encoderConfig.outputCount = outputs
            return .materials(encoderConfig)
        }
    }

    /// The task model with the base weights loaded, and a one-line load report. The training split
    /// sets class weights and target normalisation.
    static func build(
        _ config: RunConfiguration, data: TrainingData, tokenizer: SequenceTokenizer, generator: RandomGenerator
    ) throws -> (TaskModel, String) {
        if config.model.initialize != .scratch && !FileManager.default.fileExists(atPath: config.model.path) {
            throw ConfigError(
                "key 'model.path': '\(config.model.path)' does not exist (model.initialize is \(config.model.initialize.rawValue)); "
                    + "make it first (e.g. the pre-training run that writes it), or --set model.initialize=scratch")
        }
        let task = try build(config, architecture: try architecture(for: config), data: data, tokenizer: tokenizer, generator: generator)
        return (task, try loadBase(config, into: task.module, encoderPrefix: encoderPrefix(config.model.family)))
    }

    /// The task model of `architecture` with freshly initialised weights (inference loads a
    /// checkpoint into it).
    static func build(
        _ config: RunConfiguration, architecture: ModelConfigFile, data: TrainingData, tokenizer: SequenceTokenizer,
        generator: RandomGenerator
    ) throws -> TaskModel {
        switch (config.model.family, architecture) {
        case (.esm, .esm(let esmConfig)): return try esm(config, esmConfig, data: data, generator: generator)
        case (.bert, .bert(let bertConfig)): return try bert(config, bertConfig, data: data, tokenizer: tokenizer, generator: generator)
        case (.materials, .materials(let encoderConfig)): return try materials(config, encoderConfig, data: data, generator: generator)
        default: throw ConfigError("key 'model.family': \(config.model.family.rawValue) does not match the model config")
        }
    }

    private static func encoderPrefix(_ family: RunConfiguration.Model.Family) -> String? {
        switch family {
        case .esm: "esm"
        case .bert: "bert"
        case .materials: nil
        }
    }

    // MARK: Families

    private static func esm(_ config: RunConfiguration, _ esmConfig: EsmConfig, data: TrainingData, generator: RandomGenerator) throws -> TaskModel {
        let tokens = tokenBatches(padID: esmConfig.padTokenID, maxLength: config.data.maxLength)
        switch config.task.kind {
        case .maskedLM:
            let model = EsmForMaskedLM(esmConfig, generator: generator)
            return maskedLanguageModel(TaskNetwork(module: model, encoder: model.esm, maskedLM: model), head: model,
                                       config: config, maskable: { $0 >= 4 && $0 < ProteinAlphabet.mask },
                                       maskID: ProteinAlphabet.mask, randomTokens: 4..<24, batch: tokens,
                                       packedHidden: { model.esm(packed: $0, packing: $1) }) { model.esm($0, attentionMask: $1) }
        case .sequenceClassification, .sequenceRegression, .tokenClassification:
            let encoder = EsmModel(esmConfig, generator: generator)
            let model = EncoderWithHead(
                encoderKey: "esm", encoder: encoder, head: try head(config, data: data, width: esmConfig.hiddenSize, generator: generator)
            ) { encoder($0, attentionMask: $1) }
            let network = TaskNetwork(module: model, encoder: encoder, head: { model.head($0, mask: $1) })
            let packedOutputs = (model.head as? SequenceHead).map { head in
                { (ids: IndexTensor, packing: SequencePacking) in head(packed: encoder(packed: ids, packing: packing), packing: packing) }
            }
            return try supervised(network, config: config, data: data, batch: tokens, packedOutputs: packedOutputs) { model($0, mask: $1) }
        case .compositionRegression, .compositionClassification:
            throw ConfigError("key 'task.kind': \(config.task.kind.rawValue) needs model.family materials")
        }
    }

    private static func bert(
        _ config: RunConfiguration, _ bertConfig: BertConfig, data: TrainingData, tokenizer: SequenceTokenizer, generator: RandomGenerator
    ) throws -> TaskModel {
        let tokens = tokenBatches(padID: bertConfig.padTokenID, maxLength: config.data.maxLength)
        switch config.task.kind {
        case .maskedLM:
            let model = BertForMaskedLM(bertConfig, generator: generator)
            guard let wordPiece = tokenizer.wordPieceTokenizer, let maskID = wordPiece.id(of: "[MASK]") else {
                throw ConfigError("model.path '\(config.model.path)': the tokenizer has no [MASK] token")
            }
            let special = Set(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { wordPiece.id(of: $0) })
            // Random replacements skip ids below 999: BERT vocabularies keep [PAD], [unusedN] and the
            // special tokens there.
            return maskedLanguageModel(TaskNetwork(module: model, encoder: model.bert, maskedLM: model), head: model,
                                       config: config, maskable: { !special.contains($0) }, maskID: maskID,
                                       randomTokens: 999..<bertConfig.vocabularySize, batch: tokens) { model.bert($0, attentionMask: $1) }
        case .sequenceClassification, .sequenceRegression:
            let model = BertForSequenceClassification(bertConfig, generator: generator)
            let network = TaskNetwork(module: model, encoder: model.bert, head: { hidden, _ in model.head(hidden) })
            return try supervised(network, config: config, data: data, batch: tokens) { model($0, attentionMask: $1) }
        case .tokenClassification, .compositionRegression, .compositionClassification:
            throw ConfigError("key 'task.kind': \(config.task.kind.rawValue) is not available for model.family bert")
        }
    }

    private static func materials(
        _ config: RunConfiguration, _ encoderConfig: MaterialsEncoderConfig, data: TrainingData, generator: RandomGenerator
    ) throws -> TaskModel {
        let model = MaterialsEncoder(encoderConfig, generator: generator)
        if !config.model.elementFeatures.isEmpty {
            model.loadElementEmbeddings(try ElementFeatures.embedding(
                path: config.model.elementFeatures, elements: encoderConfig.elementCount, width: encoderConfig.modelWidth,
                generator: generator))
        }
        let adapter = try descriptorAdapter(config, data: data, width: encoderConfig.modelWidth, generator: generator)
        let network = TaskNetwork(module: adapter.map { CompositionWithDescriptors(model: model, adapter: $0) } ?? model, composition: model)
        let outputs = { (examples: [Example]) -> (Tensor, Int) in
            let batch = CompositionBatch(examples)
            let prefix = adapter.map { $0(Tensor(shape: [examples.count, examples[0].features.count], values: examples.flatMap(\.features))) }
            return (model(elements: batch.elements, fractions: batch.fractions, mask: batch.mask, prefix: prefix), batch.elements.count)
        }
        switch config.task.kind {
        case .compositionRegression:
            let regression = regressionObjective(config, data: data)
            return TaskModel(network: network, metricKind: .regression, targetNormalization: regression.normalization) { examples, _, _ in
                let (predictions, slots) = outputs(examples)
                let (loss, statistics) = regression.evaluate(predictions, targets: examples.map(\.target))
                return (loss, statistics, slots)
            }
        case .compositionClassification:
            let weights = try classWeights(config, data: data)
            let smoothing = config.train.labelSmoothing
            return TaskModel(network: network, metricKind: .classification) { examples, _, _ in
                let (logits, slots) = outputs(examples)
                let (loss, statistics) = ClassificationObjective.evaluate(
                    logits, targets: examples.map(\.label), weights: weights, smoothing: smoothing)
                return (loss, statistics, slots)
            }
        default:
            throw ConfigError("key 'task.kind': model.family materials supports composition-regression and composition-classification")
        }
    }

    // MARK: Tasks

    /// Examples → a padded batch; training crops long sequences at random, evaluation truncates.
    private static func tokenBatches(padID: Int, maxLength: Int) -> ([Example], Bool, RandomGenerator) -> TokenBatch {
        { examples, training, generator in
            Batching.pad(examples.map(\.tokens), indices: [], maximumLength: maxLength, padID: padID,
                         policy: training ? .randomCrop : .truncate, generator: generator)
        }
    }

    /// Masked-LM: 15 % of maskable tokens corrupted (80/10/10), loss on those positions (the head
    /// runs only there). `hidden` gives the encoder's last hidden state (B, T, C) for ids and mask;
    /// `packedHidden`, where the encoder has it and `train.packing` is on, (1, N, C) for a batch
    /// packed without padding. Padding is not maskable, so both layouts corrupt the same tokens.
    private static func maskedLanguageModel(
        _ network: TaskNetwork, head: MaskedLanguageModel, config: RunConfiguration, maskable: @escaping (Int) -> Bool, maskID: Int,
        randomTokens: Range<Int>, batch: @escaping ([Example], Bool, RandomGenerator) -> TokenBatch,
        packedHidden: ((IndexTensor, SequencePacking) -> Tensor)? = nil, hidden: @escaping (IndexTensor, Tensor) -> Tensor
    ) -> TaskModel {
        let probability = config.task.maskProbability
        let packedHidden = config.train.packing ? packedHidden : nil
        return TaskModel(network: network, metricKind: .languageModel) { examples, training, generator in
            let padded = batch(examples, training, generator)
            let packed = packedHidden.map { _ in padded.packed() }
            let (inputs, labels) = MaskedLanguageModeling.corrupt(
                packed?.ids ?? padded.ids, maskable: maskable, maskID: maskID, randomTokens: randomTokens, probability: probability,
                generator: generator)
            let states = if let packedHidden, let packed { packedHidden(inputs, packed.packing) } else { hidden(inputs, padded.mask) }
            let loss = head.maskedLoss(hidden: states, labels: IndexTensor(shape: [labels.count], values: labels.values))
            let masked = Double(labels.values.filter { $0 != -100 }.count)
            let statistics = TaskStatistics(lossSum: Double(loss.item()) * masked, weight: masked)
            return (loss, statistics, Int(padded.mask.sum().item()))
        }
    }

    /// Sequence classification / regression and token classification on an encoder with a head.
    /// `outputs` runs a padded batch (ids and mask); `packedOutputs`, where the model has it (a
    /// sequence head on ESM-2) and `train.packing` is on, runs the batch packed without padding.
    private static func supervised(
        _ network: TaskNetwork, config: RunConfiguration, data: TrainingData, batch: @escaping ([Example], Bool, RandomGenerator) -> TokenBatch,
        packedOutputs: ((IndexTensor, SequencePacking) -> Tensor)? = nil, outputs: @escaping (IndexTensor, Tensor) -> Tensor
    ) throws -> TaskModel {
        let kind = config.task.kind
        let packedOutputs = config.train.packing && kind != .tokenClassification ? packedOutputs : nil
        /// The outputs of a batch, packed where the model and the run allow it.
        let run = { (padded: TokenBatch) -> Tensor in
            guard let packedOutputs else { return outputs(padded.ids, padded.mask) }
            let packed = padded.packed()
            return packedOutputs(packed.ids, packed.packing)
        }
        if kind == .sequenceRegression {
            let regression = regressionObjective(config, data: data)
            return TaskModel(network: network, metricKind: .regression, targetNormalization: regression.normalization) {
                examples, training, generator in
                let padded = batch(examples, training, generator)
                let (loss, statistics) = regression.evaluate(run(padded), targets: examples.map(\.target))
                return (loss, statistics, Int(padded.mask.sum().item()))
            }
        }
        let weights = try classWeights(config, data: data)
        let smoothing = config.train.labelSmoothing
        return TaskModel(network: network, metricKind: .classification) { examples, training, generator in
            let padded = batch(examples, training, generator)
            var logits = run(padded)
            let targets: [Int]
            if kind == .tokenClassification {
                // logits: (B, T, L) → (B·T, L); labels padded with −100
                logits = logits.reshaped([padded.ids.count, logits.shape[2]])
                let width = padded.ids.shape[1]
                targets = examples.flatMap { $0.tokenLabels + Array(repeating: -100, count: width - $0.tokenLabels.count) }
            } else {
                targets = examples.map(\.label)
            }
            let (loss, statistics) = ClassificationObjective.evaluate(logits, targets: targets, weights: weights, smoothing: smoothing)
            return (loss, statistics, Int(padded.mask.sum().item()))
        }
    }

    // MARK: Parts

    private static func head(_ config: RunConfiguration, data: TrainingData, width: Int, generator: RandomGenerator) throws -> Module {
        switch config.task.kind {
        case .tokenClassification:
            guard data.tokenClasses.count <= config.task.numLabels else {
                throw ConfigError("key 'task.num_labels': \(config.task.numLabels), but the data has \(data.tokenClasses.count) label characters")
            }
            return TokenClassificationHead(hiddenSize: width, labels: config.task.numLabels, dropout: config.task.headDropout, generator: generator)
        default:
            guard let pooling = Pooling(rawValue: config.task.pooling) else {
                throw ConfigError("key 'task.pooling': '\(config.task.pooling)' is not first or mean")
            }
            let outputs = config.task.kind == .sequenceRegression ? 1 : config.task.numLabels
            return SequenceHead(hiddenSize: width, outputs: outputs, pooling: pooling, dropout: config.task.headDropout, generator: generator)
        }
    }

    /// The projector of `adapter.descriptors`, standardised on the training split (nil without an adapter).
    private static func descriptorAdapter(
        _ config: RunConfiguration, data: TrainingData, width: Int, generator: RandomGenerator
    ) throws -> DescriptorProjector? {
        guard !config.adapter.descriptors.isEmpty else { return nil }
        let rows = try data.train.all().map(\.features)
        let projector = DescriptorProjector(
            descriptors: rows.first?.count ?? 0, width: width, tokens: config.adapter.tokens, hidden: config.adapter.hidden, generator: generator)
        projector.standardize(using: rows)
        return projector
    }

    private static func regressionObjective(_ config: RunConfiguration, data: TrainingData) -> RegressionObjective {
        let targets = data.train.targets.map(Double.init)
        guard config.task.normalizeTargets, targets.count > 1 else { return RegressionObjective(loss: config.task.loss, mean: 0, scale: 1) }
        let mean = targets.reduce(0, +) / Double(targets.count)
        let deviation = (targets.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(targets.count - 1)).squareRoot()
        return RegressionObjective(loss: config.task.loss, mean: Float(mean), scale: Float(deviation > 0 ? deviation : 1))
    }

    /// `balanced`: w_c = n / (classes · n_c) over the training split, as scikit-learn's.
    private static func classWeights(_ config: RunConfiguration, data: TrainingData) throws -> Tensor? {
        switch config.train.classWeights {
        case "": return nil
        case "balanced":
            let classes = config.task.numLabels
            var counts = [Double](repeating: 0, count: classes)
            for labels in data.train.labels {
                for label in labels where label >= 0 { counts[label] += 1 }
            }
            let total = counts.reduce(0, +)
            return Tensor(shape: [classes], values: counts.map { Float($0 > 0 ? total / (Double(classes) * $0) : 0) })
        default:
            throw ConfigError("key 'train.class_weights': '\(config.train.classWeights)' is not '' or 'balanced'")
        }
    }

    private static func modelConfigPath(_ config: RunConfiguration) throws -> String {
        guard !config.model.config.isEmpty else {
            throw ConfigError("key 'model.config': a model YAML is needed when model.initialize is \(config.model.initialize.rawValue)")
        }
        return config.model.config
    }

    /// Loads the base weights (Hugging Face folder or Kiban checkpoint). The encoder must be
    /// complete; the head may be new (missing) and a pre-training head dropped (unexpected), as
    /// `from_pretrained` does. Returns a one-line report.
    private static func loadBase(_ config: RunConfiguration, into model: Module, encoderPrefix: String?) throws -> String {
        let source = config.model.path
        var tensors: [String: Tensor]
        switch config.model.initialize {
        case .scratch: return "initialised from scratch (\(model.parameterCount) parameters)"
        case .checkpoint: tensors = try Checkpoint.modelTensors(at: URL(fileURLWithPath: source))
        case .huggingface: tensors = try HuggingFaceFolder.tensors(in: URL(fileURLWithPath: source))
        }
        let names = Set(model.stateDict().keys)
        if let encoderPrefix {
            tensors = Dictionary(uniqueKeysWithValues: tensors.map { name, tensor in
                !names.contains(name) && names.contains("\(encoderPrefix).\(name)") ? ("\(encoderPrefix).\(name)", tensor) : (name, tensor)
            })
        }
        let report = try model.load(stateDict: tensors, strict: false)
        let encoderNames = report.missing.filter { name in encoderPrefix.map { name.hasPrefix("\($0).") } ?? !name.hasPrefix("head.") }
        guard encoderNames.isEmpty, report.misShaped.isEmpty else {
            throw ConfigError("model.path '\(source)' does not fit the model:\n\(report)")
        }
        return "loaded \(tensors.count - report.unexpected.count) tensors from \(source); new: \(report.missing.joined(separator: ", ")); "
            + "unused: \(report.unexpected.joined(separator: ", "))"
    }
}

/// A sequence encoder with a task head under `classifier` (Hugging Face's name for both).
final class EncoderWithHead: Module {
    let encoderKey: String
    let encoder: Module
    let head: Module
    let encode: (IndexTensor, Tensor) -> Tensor

    init(encoderKey: String, encoder: Module, head: Module, encode: @escaping (IndexTensor, Tensor) -> Tensor) {
        (self.encoderKey, self.encoder, self.head, self.encode) = (encoderKey, encoder, head, encode)
    }

    override var children: [(key: String, module: Module)] { [(encoderKey, encoder), ("classifier", head)] }

    /// ids, mask: (B, T) → (B, L) for a sequence head, (B, T, L) for a token head.
    func callAsFunction(_ ids: IndexTensor, mask: Tensor) -> Tensor {
        head(encode(ids, mask), mask: mask)
    }

    /// The head on the encoder's last hidden state: hidden (B, T, C), mask (B, T).
    func head(_ hidden: Tensor, mask: Tensor) -> Tensor {
        if let head = head as? SequenceHead { return head(hidden, mask: mask) }
        return (head as! TokenClassificationHead)(hidden)
    }
}

/// A composition model with a descriptor adapter: the base model's parameters keep their names, the
/// adapter's are under `descriptor_adapter.`.
final class CompositionWithDescriptors: Module {
    let model: MaterialsEncoder
    let adapter: DescriptorProjector

    init(model: MaterialsEncoder, adapter: DescriptorProjector) {
        (self.model, self.adapter) = (model, adapter)
    }

    override var children: [(key: String, module: Module)] { model.children + [("descriptor_adapter", adapter)] }
}
