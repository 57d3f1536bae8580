import Foundation
import KibanTensor
import Testing

@testable import KibanTrain

/// bf16 mixed precision (`train.precision: bf16`) against float32 on the same masked-LM run of the
/// tiny ESM on real proteins: the loss trajectories must stay within 0.1 % of each other at every
/// step over 30 updates (bf16 keeps 8 significant bits of each product operand, so the losses
/// drift apart slowly; measured: at most 0.0076 %), and must not be identical (which would mean
/// the products ran in float32).
@Suite("bf16 mixed precision", .serialized, .enabled(if: GEMMPrecision.bfloat16.isSupported, "this CPU has no AVX-512 BF16"))
struct MixedPrecisionTests {
    static func losses(_ precision: GEMMPrecision, folder: URL) throws -> [Double] {
        var config = TrainerFixture.maskedLM(in: folder, output: precision.rawValue)
        (config.train.maxSteps, config.train.evalEvery, config.train.checkpointEvery) = (30, 0, 0)
        config.train.precision = precision
        let trainer = try Trainer(config: config)
        var losses: [Double] = []
        trainer.onStep = { losses.append($0.loss) }
        try trainer.run()
        return losses
    }

    @Test func lossTrajectoryStaysNearFloat32() throws {
        let folder = try TrainerFixture.folder("bf16")
        try TrainerFixture.writeInputs(in: folder)
        let single = try Self.losses(.float32, folder: folder), mixed = try Self.losses(.bfloat16, folder: folder)
        #expect(single.count == 30 && mixed.count == 30)
        let worst = zip(single, mixed).map { abs($0 - $1) / $0 }.max() ?? .infinity
        print("bf16 against float32 over \(single.count) updates: worst relative loss difference \(worst)")
        #expect(worst <= 1e-3, "bf16 losses drift \(worst) from float32")
        #expect(single != mixed, "bf16 gave float32's losses exactly: the products did not run in bf16")
    }

    @Test func unknownPrecisionNamesTheKey() throws {
        let folder = try TrainerFixture.folder("bf16-config")
        let path = folder.appendingPathComponent("run.yaml").path
        try "train:\n  precision: fp8\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try RunConfiguration.load(path: path, overrides: []) } throws: { error in
            "\(error)".contains("precision") && "\(error)".contains("fp8")
        }
    }
}
