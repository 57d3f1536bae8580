import Foundation
import KibanData
import KibanTestSupport

@testable import KibanTrain

/// Small real-data runs for trainer tests: a tiny ESM on 48 proteins of the proteome, or on
/// a 96-peptide slice of the AMP table (balanced classes), written under a fixed temporary folder per test.
enum TrainerFixture {
    /// A fresh folder `kiban-trainer-<name>` (fixed, so a child process of an exit test finds it).
    static func folder(_ name: String, clean: Bool = true) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-trainer-\(name)")
        if clean { try? FileManager.default.removeItem(at: url) }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes the tiny model YAML and the data files into `folder`.
    static func writeInputs(in folder: URL) throws {
        try TinyESM.writeConfig(to: folder.appendingPathComponent("tiny-esm.yaml"), hiddenDropout: 0.1)
        let proteins = try FASTAReader.readAll(path: TestData.path("protein/bacterial_proteome.faa")).prefix(48)
        try proteins.map { ">\($0.header)\n\($0.sequence)\n" }.joined()
            .write(to: folder.appendingPathComponent("proteins.faa"), atomically: true, encoding: .utf8)
        let table = try CSVTable.read(path: TestData.path("protein/amp_vs_uniprot.csv"))
        let (sequences, labels, splits) = (try table.strings("sequence"), try table.strings("label"), try table.strings("split"))
        var rows = ["sequence,label,split"], taken: [String: Int] = [:]
        for index in sequences.indices {
            let group = splits[index] + labels[index]
            guard taken[group, default: 0] < (splits[index] == "train" ? 32 : 8) else { continue }
            taken[group, default: 0] += 1
            rows.append("\(sequences[index]),\(labels[index]),\(splits[index])")
        }
        try (rows.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("peptides.csv"), atomically: true, encoding: .utf8)
    }

    /// Masked-LM on the proteins: dropout, masking and crops all draw from the run's generator.
    static func maskedLM(in folder: URL, output: String) -> RunConfiguration {
        var config = RunConfiguration()
        config.run.outputDir = folder.appendingPathComponent(output).path
        config.model.config = folder.appendingPathComponent("tiny-esm.yaml").path
        config.task.kind = .maskedLM
        config.data.train = folder.appendingPathComponent("proteins.faa").path
        config.data.validationFraction = 0.2
        config.data.maxLength = 48
        config.train.maxSteps = 10
        config.train.batchSize = 4
        config.train.accumulation = 2
        config.train.evalEvery = 5
        config.train.checkpointEvery = 4
        config.schedule.warmupSteps = 3
        return config
    }

    /// Sequence classification on the peptide slice.
    static func classification(in folder: URL, output: String) -> RunConfiguration {
        var config = RunConfiguration()
        config.run.outputDir = folder.appendingPathComponent(output).path
        config.model.config = folder.appendingPathComponent("tiny-esm.yaml").path
        config.data.train = folder.appendingPathComponent("peptides.csv").path
        config.data.maxLength = 64
        config.train.batchSize = 16
        config.train.epochs = 2
        return config
    }
}
