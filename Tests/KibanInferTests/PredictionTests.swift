import Foundation
import KibanData
import KibanTestSupport
import KibanTrain
import Testing

@testable import KibanInfer

/// A run folder applied to new inputs reproduces what the trainer measured on the same examples.
@Suite(.serialized) struct PredictionTests {
    @Test func classificationPredictionsReproduceTheTrainersTestAccuracy() throws {
        let (run, summary) = try InferFixture.classificationRun(lora: false)
        let (input, truth) = try InferFixture.testPeptides()
        let output = try InferFixture.folder("predictions").appendingPathComponent("predictions.csv").path
        let model = try InferenceModel.load(run.path)
        try InferFixture.infer(model, input: input) { $0.predictions = output }
        let table = try CSVTable.read(path: output)
        #expect(table.columnNames == ["id", "label", "probability_0", "probability_1"])
        let rows = try InferFixture.tableByID(output)
        #expect(rows.count == truth.count)
        let correct = rows.filter { truth[$0.key] == $0.value[0] }.count
        #expect(abs(Double(correct) / Double(truth.count) - summary.metrics["test_accuracy"]!) < 1e-12)
        for (id, row) in rows {
            let probabilities = row[1...].map { Double($0)! }
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-6, "probabilities of \(id) do not sum to 1")
            #expect(row[0] == (probabilities[1] > probabilities[0] ? "1" : "0"))
        }
    }

    @Test func mergedLoRAGivesTheSameProbabilities() throws {
        let (run, _) = try InferFixture.classificationRun(lora: true)
        let (input, _) = try InferFixture.testPeptides()
        let folder = try InferFixture.folder("merge")
        var tables: [[String: [String]]] = []
        for merge in [false, true] {
            let output = folder.appendingPathComponent("merge-\(merge).csv").path
            try InferFixture.infer(try InferenceModel.load(run.path, options: ModelOptions(merge: merge)), input: input) { $0.predictions = output }
            tables.append(try InferFixture.tableByID(output))
        }
        #expect(tables[0].keys == tables[1].keys)
        var worst = 0.0
        for (id, row) in tables[0] {
            for (a, b) in zip(row[1...], tables[1][id]![1...]) { worst = max(worst, abs(Double(a)! - Double(b)!)) }
        }
        #expect(worst <= 1e-5, "merged and unmerged probabilities differ by \(worst)")
    }

    @Test func compositionRegressionPredictsInTheDatasUnits() throws {
        var config = InferFixture.baseConfig(output: "steels")
        config.model.family = .materials
        try """
            model: materials
            config:
              d_model: 32
              num_layers: 1
              num_heads: 2
              mlp_width: 64
            """.write(to: InferFixture.inputs.appendingPathComponent("tiny-materials.yaml"), atomically: true, encoding: .utf8)
        config.model.config = InferFixture.inputs.appendingPathComponent("tiny-materials.yaml").path
        config.task.kind = .compositionRegression
        config.data.train = try TestData.path("materials/cv/steels_yield/train0.csv")
        config.data.validation = try TestData.path("materials/cv/steels_yield/val0.csv")
        config.data.test = try TestData.path("materials/cv/steels_yield/test0.csv")
        config.train.epochs = 3
        let summary = try Trainer(config: config).run()
        let output = try InferFixture.folder("steels").appendingPathComponent("predictions.jsonl").path
        let model = try InferenceModel.load(config.run.outputDir)
        try InferFixture.infer(model, input: config.data.test) { options in
            options.predictions = output
            (options.inputOptions.idColumn, options.inputOptions.textColumn) = ("", "formula")
        }
        let targets = try CSVTable.read(path: config.data.test).doubles("target")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == targets.count)
        let predictions = try lines.map { line in
            try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["prediction"] as? Double)
        }
        let mae = zip(predictions, targets).map { abs($0 - $1) }.reduce(0, +) / Double(targets.count)
        let trained = summary.metrics["test_mae"]!
        #expect(abs(mae - trained) <= 1e-4 * trained, "inference MAE \(mae) vs the trainer's \(trained)")
    }

    /// Composition classification (Matbench's other half): metals (band gap 0) against
    /// non-metals, labels derived from expt_gap fold 0, a tiny model for 2 epochs.
    @Test func compositionClassificationTrainsAndPredicts() throws {
        let folder = try InferFixture.folder("is-metal")
        for split in ["train", "val", "test"] {
            let table = try CSVTable.read(path: try TestData.path("materials/cv/expt_gap/\(split)0.csv"))
            let (formulas, gaps) = (try table.strings("formula"), try table.doubles("target"))
            let rows = zip(formulas, gaps).prefix(split == "train" ? 800 : 200).map { "\($0),\($1 == 0 ? 1 : 0)" }
            try (["formula,label"] + rows).joined(separator: "\n").appending("\n")
                .write(to: folder.appendingPathComponent("\(split).csv"), atomically: true, encoding: .utf8)
        }
        var config = InferFixture.baseConfig(output: "is-metal")
        config.model.family = .materials
        config.model.config = InferFixture.inputs.appendingPathComponent("tiny-materials.yaml").path
        try """
            model: materials
            config:
              d_model: 32
              num_layers: 1
              num_heads: 2
              mlp_width: 64
            """.write(toFile: config.model.config, atomically: true, encoding: .utf8)
        config.task.kind = .compositionClassification
        (config.data.train, config.data.validation, config.data.test) = (
            folder.appendingPathComponent("train.csv").path, folder.appendingPathComponent("val.csv").path,
            folder.appendingPathComponent("test.csv").path
        )
        config.train.epochs = 2
        config.train.monitor = "validation_accuracy"
        let summary = try Trainer(config: config).run()
        let output = folder.appendingPathComponent("predictions.csv").path
        try InferFixture.infer(try InferenceModel.load(config.run.outputDir), input: config.data.test) { options in
            options.predictions = output
            (options.inputOptions.idColumn, options.inputOptions.textColumn) = ("", "formula")
        }
        let labels = try CSVTable.read(path: config.data.test).strings("label")
        let predicted = try CSVTable.read(path: output).strings("label")
        let accuracy = Double(zip(labels, predicted).filter { $0 == $1 }.count) / Double(labels.count)
        #expect(abs(accuracy - summary.metrics["test_accuracy"]!) < 1e-12)
        #expect(accuracy > 0.5, "accuracy \(accuracy) on metals vs non-metals")
    }
}
