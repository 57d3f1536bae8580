import Foundation
import KibanTestSupport
import Testing

@testable import KibanTrain

/// Every task trains end to end on real sequences and learns a signal its metrics can see.
@Suite("Tasks")
struct TaskTests {
    static let hydrophobic = Set("AILMFVW")

    /// Real peptides with per-residue labels (h: hydrophobic, p: not) and their hydrophobic fraction.
    func writeResidueTable(in folder: URL) throws -> URL {
        let lines = try String(contentsOf: folder.appendingPathComponent("peptides.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst()
        var rows = ["sequence,labels,target,split"]
        for line in lines {
            let fields = line.split(separator: ",")
            let sequence = String(fields[0])
            let labels = String(sequence.map { Self.hydrophobic.contains($0) ? "h" : "p" })
            let fraction = Double(labels.filter { $0 == "h" }.count) / Double(sequence.count)
            rows.append("\(sequence),\(labels),\(fraction),\(fields[2])")
        }
        let url = folder.appendingPathComponent("residues.csv")
        try (rows.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The test MAE of predicting the training targets' mean for every example.
    func meanPredictorError(_ trainer: Trainer) -> Double {
        let targets = trainer.data.train.targets, test = trainer.data.test.map(\.target)
        let mean = targets.reduce(0, +) / Float(targets.count)
        return Double(test.map { abs($0 - mean) }.reduce(0, +)) / Double(test.count)
    }

    @Test func tokenClassificationLearnsResidueClasses() throws {
        let folder = try TrainerFixture.folder("token")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = try writeResidueTable(in: folder).path
        (config.task.kind, config.train.epochs, config.optimizer.lr, config.train.classWeights) = (.tokenClassification, 15, 3e-3, "balanced")
        let summary = try Trainer(config: config).run()
        #expect(try #require(summary.metrics["test_accuracy"]) > 0.95, "\(summary.metrics)")
    }

    @Test func sequenceRegressionBeatsPredictingTheMean() throws {
        let folder = try TrainerFixture.folder("regression")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = try writeResidueTable(in: folder).path
        (config.task.kind, config.train.epochs, config.optimizer.lr, config.task.loss) = (.sequenceRegression, 15, 3e-3, .huber)
        let trainer = try Trainer(config: config)
        let summary = try trainer.run()
        let meanError = meanPredictorError(trainer)
        #expect(try #require(summary.metrics["test_mae"]) < 0.6 * meanError, "\(summary.metrics), mean predictor \(meanError)")
    }

    @Test func compositionRegressionOnMatbenchSteels() throws {
        let folds = try TestData.url("materials/cv/steels_yield")
        let folder = try TrainerFixture.folder("composition")
        let modelConfig = folder.appendingPathComponent("small-materials.yaml")
        try "model: materials\nconfig:\n  d_model: 64\n  num_layers: 2\n  num_heads: 4\n  mlp_width: 128\n"
            .write(to: modelConfig, atomically: true, encoding: .utf8)
        var config = RunConfiguration()
        config.run.outputDir = folder.appendingPathComponent("run").path
        config.model.family = .materials
        config.model.config = modelConfig.path
        config.model.elementFeatures = try TestData.path("materials/elements/mat2vec.csv")
        config.task.kind = .compositionRegression
        config.task.loss = .l1
        config.data.train = folds.appendingPathComponent("train0.csv").path
        config.data.validation = folds.appendingPathComponent("val0.csv").path
        config.data.test = folds.appendingPathComponent("test0.csv").path
        (config.train.epochs, config.train.batchSize, config.train.monitor) = (30, 32, "validation_mae")
        let trainer = try Trainer(config: config)
        let summary = try trainer.run()
        let meanError = meanPredictorError(trainer)
        #expect(try #require(summary.metrics["test_mae"]) < meanError, "\(summary.metrics), mean predictor \(meanError) MPa")
    }
}
