import Foundation
import KibanData
import KibanFormats
import KibanModels
import KibanTensor
import KibanTestSupport
import Testing

@testable import KibanTrain

/// Descriptor-token adapters on the composition model: Magpie statistics of each formula, computed
/// by Kiban, become projector tokens the element tokens attend to.
@Suite("Descriptor adapters")
struct DescriptorAdapterTests {
    /// A run on the first 200 / 60 / 60 formulas of Matbench expt_gap's fold 0, 2 epochs, a small model.
    static func config(_ name: String, adapter: Bool) throws -> RunConfiguration {
        let folder = try TrainerFixture.folder("descriptors-\(name)")
        for (split, rows) in [("train", 200), ("val", 60), ("test", 60)] {
            let lines = try String(contentsOfFile: TestData.path("materials/cv/expt_gap/\(split)0.csv"), encoding: .utf8).split(separator: "\n")
            try (lines.prefix(rows + 1).joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("\(split).csv"), atomically: true, encoding: .utf8)
        }
        try "model: materials\nconfig: {d_model: 32, num_layers: 2, num_heads: 4, mlp_width: 64}\n"
            .write(to: folder.appendingPathComponent("model.yaml"), atomically: true, encoding: .utf8)
        var config = RunConfiguration()
        (config.model.family, config.model.config) = (.materials, folder.appendingPathComponent("model.yaml").path)
        (config.task.kind, config.task.loss) = (.compositionRegression, .l1)
        config.data.train = folder.appendingPathComponent("train.csv").path
        config.data.validation = folder.appendingPathComponent("val.csv").path
        config.data.test = folder.appendingPathComponent("test.csv").path
        (config.train.epochs, config.train.batchSize, config.train.monitor) = (2, 32, "validation_mae")
        config.run.outputDir = folder.appendingPathComponent("run").path
        if adapter { config.adapter.descriptors = try TestData.path("materials/elements/magpie.csv") }
        return config
    }

    @Test func anAdapterRunTrainsAndKeepsTheBaseNames() throws {
        let base = try Trainer(config: Self.config("base", adapter: false))
        let adapted = try Trainer(config: Self.config("adapted", adapter: true))
        let first = try adapted.data.train.examples(at: [0])[0]
        #expect(adapted.data.train.count == 200 && first.features.count == 110)
        let baseNames = Set(base.task.module.stateDict().keys), names = Set(adapted.task.module.stateDict().keys)
        #expect(baseNames.isSubset(of: names))
        #expect(names.subtracting(baseNames) == [
            "descriptor_adapter.mean", "descriptor_adapter.scale", "descriptor_adapter.hidden.weight", "descriptor_adapter.hidden.bias",
            "descriptor_adapter.output.weight", "descriptor_adapter.output.bias",
        ])
        let summary = try adapted.run()
        #expect(summary.metrics["test_mae"]!.isFinite && summary.metrics["test_mae"]! < 2)
        let saved = try Checkpoint.modelTensors(at: URL(fileURLWithPath: adapted.config.run.outputDir).appendingPathComponent("best.h5"))
        // The standardisation travels with the weights: the training split's mean atomic number, not 0.
        #expect(saved["descriptor_adapter.mean"]!.toArray()[0] > 5)
        // Inference cannot feed descriptors yet, so it refuses the run rather than ignore the adapter.
        #expect { try RunFolder.load(URL(fileURLWithPath: adapted.config.run.outputDir)) } throws: {
            "\($0)".contains("trained with a descriptor adapter (adapter.descriptors), which inference and evaluation do not read yet")
        }
    }

    @Test func descriptorTokensChangeThePredictionAndTheirAbsenceIsTheBaseModel() throws {
        let adapted = try Trainer(config: Self.config("switch", adapter: true))
        let examples = try adapted.data.train.examples(at: [0, 1, 2])
        let model = try #require(adapted.task.network.composition)
        let batch = CompositionBatch(examples)
        let without = model(elements: batch.elements, fractions: batch.fractions, mask: batch.mask)
        let prefix = Tensor.randn([3, 4, 32], generator: RandomGenerator(seed: 1))
        let with = model(elements: batch.elements, fractions: batch.fractions, mask: batch.mask, prefix: prefix)
        let base = MaterialsEncoder(model.config, generator: RandomGenerator(seed: 0))
        try base.load(stateDict: model.stateDict())
        #expect(base(elements: batch.elements, fractions: batch.fractions, mask: batch.mask).toArray() == without.toArray())
        #expect(zip(with.toArray(), without.toArray()).contains { abs($0 - $1) > 1e-4 })
    }

    @Test func adaptersOutsideCompositionTasksOrWithoutATableAreRefused() throws {
        var config = try Self.config("errors", adapter: true)
        config.adapter.descriptors = "/nonexistent/magpie.csv"
        #expect { try Trainer.loadData(for: config) } throws: { "\($0)".contains("'/nonexistent/magpie.csv' does not exist") }
        #expect { try RunConfiguration.parse(yaml: "task: {kind: sequence-classification}\nadapter: {descriptors: x.csv}\n") } throws: {
            "\($0)".contains("descriptor adapters work with composition tasks so far")
        }
    }
}
