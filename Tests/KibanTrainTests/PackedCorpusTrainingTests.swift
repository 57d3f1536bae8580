import Foundation
import KibanData
import Testing

@testable import KibanTrain

/// Training straight from packed HDF5 corpora (`kiban data pack`), read per micro-batch.
@Suite("Training from packed corpora")
struct PackedCorpusTrainingTests {
    /// Every update's loss and gradient norm, and the final metrics.
    func run(_ config: RunConfiguration) throws -> (updates: [[Double]], metrics: [String: Double]) {
        let trainer = try Trainer(config: config)
        var updates: [[Double]] = []
        trainer.onStep = { updates.append([$0.loss, $0.gradientNorm]) }
        let metrics = try trainer.run().metrics
        return (updates, metrics)
    }

    @Test func aPackedCorpusTrainsExactlyAsTheCSVItWasPackedFrom() throws {
        let folder = try TrainerFixture.folder("packed-csv")
        try TrainerFixture.writeInputs(in: folder)
        let corpus = folder.appendingPathComponent("peptides.h5")
        _ = try CorpusPacker.packProteinCSV(input: folder.appendingPathComponent("peptides.csv").path, output: corpus)
        var fromCSV = TrainerFixture.classification(in: folder, output: "csv")
        fromCSV.data.maxLength = 24  // shorter than some peptides: truncation must match too
        var fromCorpus = fromCSV
        fromCorpus.data.train = corpus.path
        fromCorpus.run.outputDir = folder.appendingPathComponent("corpus").path
        let data = try Trainer.loadData(for: fromCorpus)
        #expect((data.train.count, data.validation.count, data.test.count) == (64, 16, 16))
        let csv = try run(fromCSV), packed = try run(fromCorpus)
        #expect(csv.updates.count == 8)
        #expect(csv.updates == packed.updates)
        #expect(csv.metrics == packed.metrics)
    }

    /// The trainer fixture's inputs in a fresh folder, with its 48 proteins packed (no splits).
    func packedProteins(_ name: String) throws -> (folder: URL, corpus: URL) {
        let folder = try TrainerFixture.folder(name)
        try TrainerFixture.writeInputs(in: folder)
        let corpus = folder.appendingPathComponent("proteins.h5")
        _ = try CorpusPacker.packFASTA(input: folder.appendingPathComponent("proteins.faa").path, output: corpus)
        return (folder, corpus)
    }

    @Test func aCorpusWithoutSplitsHoldsOutAFixedFractionForValidation() throws {
        let (folder, corpus) = try packedProteins("packed-fasta")
        var config = TrainerFixture.maskedLM(in: folder, output: "run")
        config.data.train = corpus.path
        let data = try Trainer.loadData(for: config), again = try Trainer.loadData(for: config)
        #expect(data.train.count + data.validation.count == 48)
        #expect(data.validation.count > 4 && data.validation.count < 16)
        #expect(data.validation.map(\.tokens) == again.validation.map(\.tokens))
        let trained = try run(config)
        #expect(trained.updates.count == 10 && trained.updates.allSatisfy { $0[0].isFinite })
        #expect(trained.metrics["validation_perplexity"]! < 33)
    }

    @Test func aPackedCorpusThatCannotServeTheTaskIsRefusedByName() throws {
        let (folder, corpus) = try packedProteins("packed-wrong")
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = corpus.path
        #expect { try Trainer.loadData(for: config) } throws: { "\($0)".contains("\(corpus.path): no /labels dataset") }
        (config.model.family, config.task.kind) = (.materials, .compositionRegression)
        #expect { try Trainer.loadData(for: config) } throws: { "\($0)".contains("a packed protein corpus cannot train model.family materials") }
    }
}
