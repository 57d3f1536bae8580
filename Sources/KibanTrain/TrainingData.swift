import Foundation
import KibanData
import KibanFormats

/// The three splits of a run's data, with the SHA-256 of every file read. Training examples may
/// stay on disk (a packed corpus); validation and test are held in memory.
public struct TrainingData {
    public var train: ExampleSet
    public var validation: [Example]
    public var test: [Example]
    public var fileHashes: [String: String]
    /// Token classification: the label character of each class id.
    public var tokenClasses: [Character] = []

    /// Whether a FASTA corpus holds `sequence` out for validation when `fraction` of it is held out
    /// (a hash of the sequence, the same on every run and machine).
    public static func isHeldOut(_ sequence: String, fraction: Double) -> Bool {
        Double(TrainingDataLoader.stableHash(sequence) % 10_000) < fraction * 10_000
    }
}

/// Reads a run's data files into examples, checking everything before training starts.
enum TrainingDataLoader {
    typealias ConfigError = ConfigTree.ConfigError

    static func load(_ config: RunConfiguration, tokenizer: SequenceTokenizer) throws -> TrainingData {
        let source = config.data
        guard !source.train.isEmpty else { throw ConfigError("key 'data.train': no training file given") }
        var hashes: [String: String] = [:]
        for path in [source.train, source.validation, source.test] where !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigError("data file '\(path)' does not exist (from data.train/validation/test)")
            }
            hashes[path] = try SHA256.hexDigest(ofFile: URL(fileURLWithPath: path))
        }
        var data: TrainingData
        if source.train.hasSuffix(".h5") {
            data = try packed(config)
        } else if config.task.kind == .maskedLM && [".faa", ".fasta", ".fa"].contains(where: source.train.hasSuffix) {
            data = try fasta(source, tokenizer: tokenizer)
        } else {
            data = try tables(config, tokenizer: tokenizer)
        }
        data.fileHashes = hashes
        if !config.adapter.descriptors.isEmpty { try addDescriptors(to: &data, table: config.adapter.descriptors) }
        for (name, count) in [("train", data.train.count), ("validation", data.validation.count)] where count == 0 {
            throw ConfigError("the \(name) split is empty (data.train = '\(source.train)', split column '\(source.splitColumn)')")
        }
        return data
    }

    /// Magpie statistics of every example's composition over the element table at `table`.
    private static func addDescriptors(to data: inout TrainingData, table path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigError("key 'adapter.descriptors': '\(path)' does not exist") }
        let table = try CompositionDescriptors(path: path)
        let describe = { (example: Example) throws -> Example in
            var described = example
            described.features = try table.values(elements: example.tokens, fractions: example.fractions.map(Double.init)).map(Float.init)
            return described
        }
        data.train = try data.train.mapped(describe)
        data.validation = try data.validation.map(describe)
        data.test = try data.test.map(describe)
    }

    /// A FASTA corpus; validation is a fixed hash-selected fraction of the sequences.
    private static func fasta(_ source: RunConfiguration.DataSource, tokenizer: SequenceTokenizer) throws -> TrainingData {
        var train: [Example] = [], validation: [Example] = []
        for record in try FASTAReader.readAll(path: source.train) {
            let example = Example(tokens: tokenizer.encode(record.sequence, maxLength: source.maxLength, truncate: false))
            if TrainingData.isHeldOut(record.sequence, fraction: source.validationFraction) {
                validation.append(example)
            } else {
                train.append(example)
            }
        }
        return TrainingData(train: ExampleSet(train), validation: validation, test: [], fileHashes: [:])
    }

    /// A packed HDF5 corpus (`kiban data pack`): its split column, or else a fixed hash-selected
    /// fraction of the sequence indices, is held out for validation (read into memory); training
    /// sequences stay on disk until a micro-batch reads them.
    private static func packed(_ config: RunConfiguration) throws -> TrainingData {
        let path = config.data.train
        let corpus = try PackedCorpus(path: path)
        let expected = config.model.family == .materials ? "composition" : "protein"
        guard corpus.kind == expected, config.model.family != .bert else {
            throw ConfigError("\(path): a packed \(corpus.kind) corpus cannot train model.family \(config.model.family.rawValue) (packed corpora use ESM's alphabet or atomic numbers)")
        }
        switch config.task.kind {
        case .sequenceClassification, .compositionClassification:
            guard let labels = corpus.labels else { throw ConfigError("\(path): no /labels dataset for task.kind \(config.task.kind.rawValue)") }
            if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= config.task.numLabels }) {
                throw DataError(file: path, column: "labels", message: "sequence \(bad): label \(labels[bad]) is outside 0..<\(config.task.numLabels) (task.num_labels)")
            }
        case .sequenceRegression, .compositionRegression:
            guard corpus.targets != nil else { throw ConfigError("\(path): no /targets dataset for task.kind \(config.task.kind.rawValue)") }
        case .tokenClassification:
            throw ConfigError("\(path): packed corpora hold no per-token labels (task.kind token-classification needs a CSV)")
        case .maskedLM: break
        }
        let truncation = config.task.kind == .maskedLM || corpus.kind == "composition" ? nil : config.data.maxLength
        let read = { (indices: [Int]) in try ExampleSet(corpus: corpus, indices: indices, truncation: truncation).all() }
        var train = corpus.indices(in: .train), validation: [Int], test: [Int] = []
        if corpus.hasSplits {
            (validation, test) = (corpus.indices(in: .validation), corpus.indices(in: .test))
        } else {
            let fraction = config.data.validationFraction
            validation = train.filter { Double(stableHash(String($0)) % 10_000) < fraction * 10_000 }
            let held = Set(validation)
            train.removeAll { held.contains($0) }
        }
        return TrainingData(
            train: ExampleSet(corpus: corpus, indices: train, truncation: truncation), validation: try read(validation),
            test: try read(test), fileHashes: [:])
    }

    /// CSV files: one file with a split column, or separate train/validation/test files.
    private static func tables(_ config: RunConfiguration, tokenizer: SequenceTokenizer) throws -> TrainingData {
        let source = config.data
        var tokenClasses: [Character] = []
        let read = { (path: String) throws -> (examples: [Example], table: CSVTable) in
            let table = try CSVTable.read(path: path)
            return (try examples(in: table, config: config, tokenizer: tokenizer, tokenClasses: &tokenClasses), table)
        }
        let (trainRows, table) = try read(source.train)
        if !source.validation.isEmpty {
            let validation = try read(source.validation).examples
            let test = source.test.isEmpty ? [] : try read(source.test).examples
            return TrainingData(train: ExampleSet(trainRows), validation: validation, test: test, fileHashes: [:], tokenClasses: tokenClasses)
        }
        guard table.columnNames.contains(source.splitColumn) else {
            throw ConfigError("\(source.train): no column '\(source.splitColumn)' (data.split_column) and no data.validation file")
        }
        let splits = try table.strings(source.splitColumn)
        var result = TrainingData(train: [], validation: [], test: [], fileHashes: [:], tokenClasses: tokenClasses)
        var train: [Example] = []
        for (row, (example, split)) in zip(trainRows, splits).enumerated() {
            switch split {
            case "train": train.append(example)
            case "val", "valid", "validation": result.validation.append(example)
            case "test": result.test.append(example)
            default:
                throw DataError(file: table.file, line: table.line(ofRow: row), column: source.splitColumn,
                                message: "split '\(split)' is not train, val or test")
            }
        }
        result.train = ExampleSet(train)
        return result
    }

    private static func examples(
        in table: CSVTable, config: RunConfiguration, tokenizer: SequenceTokenizer, tokenClasses: inout [Character]
    ) throws -> [Example] {
        let source = config.data
        switch config.task.kind {
        case .compositionRegression:
            let targets = try table.doubles(source.targetColumn)
            return try zip(table.formulas(source.formulaColumn), targets).map { formula, target in
                let fractions = formula.fractions
                return Example(tokens: fractions.map(\.element.atomicNumber), fractions: fractions.map { Float($0.fraction) },
                               target: Float(target))
            }
        case .compositionClassification:
            let labels = try checkedLabels(table, config: config)
            return try zip(table.formulas(source.formulaColumn), labels).map { formula, label in
                let fractions = formula.fractions
                return Example(tokens: fractions.map(\.element.atomicNumber), fractions: fractions.map { Float($0.fraction) }, label: label)
            }
        case .maskedLM:
            return try table.strings(source.sequenceColumn).map {
                Example(tokens: tokenizer.encode($0, maxLength: source.maxLength, truncate: false))
            }
        case .sequenceClassification:
            let labels = try checkedLabels(table, config: config)
            return try zip(table.strings(source.sequenceColumn), labels).map { sequence, label in
                Example(tokens: tokenizer.encode(sequence, maxLength: source.maxLength, truncate: true), label: label)
            }
        case .sequenceRegression:
            return try zip(table.strings(source.sequenceColumn), table.doubles(source.targetColumn)).map { sequence, target in
                Example(tokens: tokenizer.encode(sequence, maxLength: source.maxLength, truncate: true), target: Float(target))
            }
        case .tokenClassification:
            guard case .protein = tokenizer else {
                throw ConfigError("task.kind token-classification needs model.family esm (one token per residue)")
            }
            let sequences = try table.strings(source.sequenceColumn), labelStrings = try table.strings(source.tokenLabelColumn)
            return try zip(sequences, labelStrings).enumerated().map { row, pair in
                let (sequence, labels) = pair
                guard labels.count == sequence.count else {
                    throw DataError(file: table.file, line: table.line(ofRow: row), column: source.tokenLabelColumn,
                                    message: "\(labels.count) labels for a sequence of \(sequence.count) residues")
                }
                let classes = labels.map { character -> Int in
                    if let index = tokenClasses.firstIndex(of: character) { return index }
                    tokenClasses.append(character)
                    return tokenClasses.count - 1
                }
                let tokens = tokenizer.encode(sequence, maxLength: source.maxLength, truncate: true)
                let aligned = [-100] + classes.prefix(tokens.count - 2) + [-100]
                return Example(tokens: tokens, tokenLabels: aligned)
            }
        }
    }

    /// The label column as class indices, each checked against `task.num_labels`.
    private static func checkedLabels(_ table: CSVTable, config: RunConfiguration) throws -> [Int] {
        let column = config.data.labelColumn
        let labels = try table.integers(column)
        for (row, label) in labels.enumerated() where label < 0 || label >= config.task.numLabels {
            throw DataError(file: table.file, line: table.line(ofRow: row), column: column,
                            message: "label \(label) is outside 0..<\(config.task.numLabels) (task.num_labels)")
        }
        return labels
    }

    /// FNV-1a over the UTF-8 bytes: a split that does not change between runs or machines.
    static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
