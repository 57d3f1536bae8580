import Foundation
import KibanTestSupport
import Testing

@testable import KibanTrain

/// Training with batches packed without padding (`train.packing`, the default) against padded
/// batches, on the tiny ESM without dropout (dropout masks would be drawn over differently shaped
/// tensors): masked-LM masks the same tokens in both layouts, sequence classification pools the
/// same rows, so the loss trajectories must agree to float rounding (1e-5 relative; sums over
/// padded rows add zeros in another order, and mean pooling is a product rather than a Double sum).
@Suite("Packed training", .serialized)
struct PackedTrainingTests {
    static func losses(packing: Bool, folder: URL, classification: Bool = false) throws -> [Double] {
        var config = classification
            ? TrainerFixture.classification(in: folder, output: packing ? "packed-classifier" : "padded-classifier")
            : TrainerFixture.maskedLM(in: folder, output: packing ? "packed" : "padded")
        config.model.config = folder.appendingPathComponent("no-dropout.yaml").path
        config.task.headDropout = 0
        config.train.epochs = 3
        (config.train.maxSteps, config.train.evalEvery, config.train.checkpointEvery, config.train.packing) = (12, 0, 0, packing)
        let trainer = try Trainer(config: config)
        var losses: [Double] = []
        trainer.onStep = { losses.append($0.loss) }
        try trainer.run()
        return losses
    }

    /// The tiny ESM without dropout, and the run's inputs, in a fresh folder.
    static func inputs() throws -> URL {
        let folder = try TrainerFixture.folder("packed")
        try TrainerFixture.writeInputs(in: folder)
        try TinyESM.writeConfig(to: folder.appendingPathComponent("no-dropout.yaml"), hiddenDropout: 0)
        return folder
    }

    @Test func maskedLMLossesEqualPaddedTraining() throws {
        let folder = try Self.inputs()
        let packed = try Self.losses(packing: true, folder: folder), padded = try Self.losses(packing: false, folder: folder)
        #expect(packed.count == 12 && padded.count == 12)
        let worst = zip(packed, padded).map { abs($0 - $1) / $1 }.max() ?? .infinity
        print("packed against padded masked-LM training over \(packed.count) updates: worst relative loss difference \(worst)")
        #expect(worst <= 1e-5)
    }

    /// Sequence classification with mean pooling on the peptide slice (lengths 8 to 64).
    @Test func classificationLossesEqualPaddedTraining() throws {
        let folder = try Self.inputs()
        let packed = try Self.losses(packing: true, folder: folder, classification: true)
        let padded = try Self.losses(packing: false, folder: folder, classification: true)
        #expect(packed.count == 12 && padded.count == 12)
        let worst = zip(packed, padded).map { abs($0 - $1) / $1 }.max() ?? .infinity
        print("packed against padded classification training over \(packed.count) updates: worst relative loss difference \(worst)")
        #expect(worst <= 1e-5)
    }
}
