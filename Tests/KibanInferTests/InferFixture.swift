import Foundation
import KibanData
import KibanFormats
import KibanTestSupport
import KibanTrain

@testable import KibanInfer

/// Tiny trained runs and inputs for inference tests, from the real proteome and AMP data; each
/// run is trained once per process and shared by the tests that read it.
enum InferFixture {
    static func folder(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-infer-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static let inputs: URL = {
        let url = try! folder("inputs")
        try! TinyESM.writeConfig(to: url.appendingPathComponent("tiny-esm.yaml"))
        let proteins = try! FASTAReader.readAll(path: TestData.path("protein/bacterial_proteome.faa")).prefix(40)
        try! proteins.map { ">\($0.header)\n\($0.sequence)\n" }.joined()
            .write(to: url.appendingPathComponent("train.faa"), atomically: true, encoding: .utf8)
        let table = try! CSVTable.read(path: TestData.path("protein/amp_vs_uniprot.csv"))
        let (sequences, labels, splits) = (try! table.strings("sequence"), try! table.strings("label"), try! table.strings("split"))
        var rows = ["id,sequence,label,split"], taken: [String: Int] = [:]
        for index in sequences.indices {
            let group = splits[index] + labels[index]
            guard taken[group, default: 0] < (splits[index] == "train" ? 24 : 10) else { continue }
            taken[group, default: 0] += 1
            rows.append("pep\(index),\(sequences[index]),\(labels[index]),\(splits[index])")
        }
        try! (rows.joined(separator: "\n") + "\n").write(to: url.appendingPathComponent("peptides.csv"), atomically: true, encoding: .utf8)
        return url
    }()

    /// 24 proteome sequences cut to lengths 8…150, so that some exceed a 64-token limit.
    static func proteinFASTA(named name: String, order: [Int]? = nil) throws -> String {
        let records = try FASTAReader.readAll(path: TestData.path("protein/bacterial_proteome.faa"))[100..<124]
        let cut = records.enumerated().map { index, record in
            (id: "seq\(index)", sequence: String(record.sequence.prefix(8 + (index * 37) % 143)))
        }
        let path = inputs.appendingPathComponent(name).path
        try (order ?? Array(cut.indices)).map { ">\(cut[$0].id) cut\n\(cut[$0].sequence)\n" }.joined()
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func baseConfig(output: String) -> RunConfiguration {
        var config = RunConfiguration()
        config.run.outputDir = inputs.appendingPathComponent(output).path
        config.model.config = inputs.appendingPathComponent("tiny-esm.yaml").path
        config.train.batchSize = 16
        return config
    }

    /// A masked-LM run (4 updates): enough to give non-trivial scores.
    static let maskedLMRun: URL = {
        var config = baseConfig(output: "mlm")
        config.task.kind = .maskedLM
        config.data.train = inputs.appendingPathComponent("train.faa").path
        config.data.validationFraction = 0.2
        config.data.maxLength = 64
        config.train.maxSteps = 4
        try! Trainer(config: config).run()
        return URL(fileURLWithPath: config.run.outputDir)
    }()

    /// A sequence-classification run on the peptides (2 epochs), optionally with LoRA.
    static func classificationRun(lora: Bool) throws -> (URL, TrainingSummary) {
        var config = baseConfig(output: lora ? "classifier-lora" : "classifier")
        config.data.train = inputs.appendingPathComponent("peptides.csv").path
        config.data.maxLength = 200
        config.train.epochs = 2
        if lora {
            config.lora.enabled = true
            config.lora.targetModules = ["query$", "value$", "intermediate.dense$"]
        }
        let summary = try Trainer(config: config).run()
        return (URL(fileURLWithPath: config.run.outputDir), summary)
    }

    /// The test split of the peptides as a CSV input (id, sequence) and its labels by id.
    static func testPeptides() throws -> (path: String, labels: [String: String]) {
        let table = try CSVTable.read(path: inputs.appendingPathComponent("peptides.csv").path)
        let (ids, sequences, labels, splits) = (try table.strings("id"), try table.strings("sequence"), try table.strings("label"), try table.strings("split"))
        var rows = ["id,sequence"], truth: [String: String] = [:]
        for index in ids.indices where splits[index] == "test" {
            rows.append("\(ids[index]),\(sequences[index])")
            truth[ids[index]] = labels[index]
        }
        let path = inputs.appendingPathComponent("test-peptides.csv").path
        try (rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, truth)
    }

    /// Runs inference and returns nothing; outputs are where `configure` put them.
    static func infer(_ model: InferenceModel, input: String, _ configure: (inout InferenceOptions) -> Void) throws {
        var options = InferenceOptions(input: input)
        options.showProgress = false
        configure(&options)
        try InferenceRun(model: model, options: options).run()
    }

    /// Datasets of an embeddings file with rows keyed by id (per_tok: the id's block of rows).
    static func embeddingsByID(_ path: String, datasets: [String]) throws -> [String: [String: [Float]]] {
        let file = try HDF5File(path: path, mode: .read)
        defer { file.close() }
        let ids = try file.readStrings("/ids")
        let offsets = file.exists("/offsets") ? try file.readInts("/offsets").values.map { Int($0) } : []
        var result: [String: [String: [Float]]] = [:]
        for dataset in datasets {
            let (shape, values) = try file.readFloats(dataset)
            let width = shape[1]
            for (row, id) in ids.enumerated() {
                let rows = dataset.hasSuffix("per_tok") ? offsets[row]..<offsets[row + 1] : row..<(row + 1)
                result[id, default: [:]][dataset] = Array(values[(rows.lowerBound * width)..<(rows.upperBound * width)])
            }
        }
        return result
    }

    /// A CSV results table as rows keyed by id (the header excluded).
    static func tableByID(_ path: String) throws -> [String: [String]] {
        let table = try CSVTable.read(path: path)
        let ids = try table.strings("id")
        let columns = try table.columnNames.dropFirst().map { try table.strings($0) }
        return Dictionary(uniqueKeysWithValues: ids.enumerated().map { row, id in (id, columns.map { $0[row] }) })
    }

    /// The largest |a − b| / max|b| over the rows of two embeddings files (and ∞ when ids or
    /// datasets differ).
    static func worstRelativeDifference(_ a: [String: [String: [Float]]], _ b: [String: [String: [Float]]]) -> Double {
        guard a.keys == b.keys else { return .infinity }
        var worst = 0.0
        for (id, datasets) in b {
            for (name, row) in datasets {
                guard let other = a[id]?[name], other.count == row.count else { return .infinity }
                let scale = Double(row.map { abs($0) }.max() ?? 0)
                let difference = Double(zip(other, row).map { abs($0 - $1) }.max() ?? 0)
                worst = max(worst, scale > 0 ? difference / scale : difference)
            }
        }
        return worst
    }

    /// The largest relative difference between the numeric columns of two results tables.
    static func worstRelativeDifference(_ a: [String: [String]], _ b: [String: [String]]) -> Double {
        guard a.keys == b.keys else { return .infinity }
        var worst = 0.0
        for (id, row) in b {
            for (x, y) in zip(a[id]!, row) {
                guard let u = Double(x), let v = Double(y) else {
                    if x != y { return .infinity }
                    continue
                }
                worst = max(worst, abs(u - v) / max(abs(v), 1e-30))
            }
        }
        return worst
    }
}
