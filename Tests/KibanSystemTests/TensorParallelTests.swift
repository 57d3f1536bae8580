import Foundation
import Testing

/// Tensor parallelism under `mpirun`: ESM-2 split over 2 ranks (heads, feed-forward width and
/// vocabulary) trains as the unsplit model does, alone and on a 2 × 2 grid with data parallelism,
/// and its checkpoints (whole tensors) continue at another layout.
@Suite("Tensor parallel training", .serialized)
struct TensorParallelTests {
    /// Worst relative difference of two trajectories' losses and gradient norms over the same steps.
    static func worstDifference(_ a: [Int: [Double]], _ b: [Int: [Double]], steps: ClosedRange<Int>) throws -> Double {
        try steps.map { step in
            let (x, y) = (try #require(a[step], "step \(step) missing"), try #require(b[step], "step \(step) missing"))
            return zip(x, y).map { abs($0 - $1) / max(abs($0), 1e-12) }.max()!
        }.max()!
    }

    /// Largest absolute difference between two checkpoints' datasets, which must have the same names and sizes.
    static func worstDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        #expect(Set(a.keys) == Set(b.keys) && a.allSatisfy { b[$0.key]?.count == $0.value.count }, "checkpoints hold different tensors")
        return a.map { name, values in zip(values, b[name] ?? []).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    @Test(arguments: [(ranks: 2, split: 2), (ranks: 4, split: 2)])
    func splitModelTrainsAsTheWholeModel(ranks: Int, split: Int) throws {
        let folder = try DataParallelTests.fixture("tp\(ranks)")
        let dataRanks = ranks / split
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "one", ["train.accumulation=\(dataRanks)"])
        let text = try DataParallelTests.finetune(folder, ranks: ranks, output: "split", ["train.tensor_parallel=\(split)"])
        #expect(text.contains("tensor parallel over \(split) × data parallel over \(dataRanks)"), "\(text)")
        let held = try #require(text.firstMatch(of: /rank 0 trains (\d+) of (\d+) parameters/), "\(text)")
        #expect(Int(held.1)! < Int(held.2)! * 3 / 4, "the model was not split: \(held.0)")
        let one = try DataParallelTests.trajectory(folder.appendingPathComponent("one"))
        let parallel = try DataParallelTests.trajectory(folder.appendingPathComponent("split"))
        let worst = try Self.worstDifference(one.train, parallel.train, steps: 1...10)
        #expect(worst <= 1e-5, "losses or gradient norms differ by \(worst)")
        for (step, metrics) in one.evaluations {
            for (name, value) in metrics { #expect(abs(value - (parallel.evaluations[step]?[name] ?? .nan)) <= 1e-5 * abs(value)) }
        }
        let whole = try DataParallelTests.checkpoint(folder.appendingPathComponent("one/last.h5"))
        let gathered = try DataParallelTests.checkpoint(folder.appendingPathComponent("split/last.h5"))
        let difference = Self.worstDifference(whole, gathered)
        #expect(difference <= 1e-5, "checkpoint tensors differ by \(difference)")
        print("tensor parallel \(split) × data parallel \(dataRanks): losses within \(worst), checkpoints within \(difference)")
    }

    /// After one update without clipping AdamW's first moment is 0.1 × the gradient, stored whole
    /// in the checkpoint: the split model's gradient of every parameter against the whole model's.
    @Test func splitGradientsEqualTheWholeModels() throws {
        let folder = try DataParallelTests.fixture("tp-gradients")
        let once = ["train.max_steps=1", "train.clip_norm=0", "train.checkpoint_every=1"]
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "one", once)
        _ = try DataParallelTests.finetune(folder, ranks: 2, output: "split", once + ["train.tensor_parallel=2"])
        let whole = try DataParallelTests.checkpoint(folder.appendingPathComponent("one/last.h5"))["/optimizer/first_moment"]!
        let split = try DataParallelTests.checkpoint(folder.appendingPathComponent("split/last.h5"))["/optimizer/first_moment"]!
        let scale = whole.map(abs).max()!
        let worst = zip(whole, split).map { abs($0 - $1) }.max()! / scale
        #expect(whole.count == split.count && scale > 0 && worst <= 1e-5, "gradients differ by \(worst) of the largest (\(whole.count) vs \(split.count) values)")
        print("gradients of all \(whole.count) parameters within \(worst) of the largest")
    }

    @Test func checkpointsContinueAcrossLayouts() throws {
        let folder = try DataParallelTests.fixture("tp-resume")
        let constant = ["schedule.kind=constant", "train.checkpoint_every=5"]
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "uninterrupted", constant)
        _ = try DataParallelTests.finetune(folder, ranks: 2, output: "split-then-whole", constant + ["train.tensor_parallel=2", "train.max_steps=5"])
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "split-then-whole", constant)
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "whole-then-split", constant + ["train.max_steps=5"])
        _ = try DataParallelTests.finetune(folder, ranks: 2, output: "whole-then-split", constant + ["train.tensor_parallel=2"])
        let reference = try DataParallelTests.trajectory(folder.appendingPathComponent("uninterrupted")).train
        for run in ["split-then-whole", "whole-then-split"] {
            let resumed = try DataParallelTests.trajectory(folder.appendingPathComponent(run)).train
            let worst = try Self.worstDifference(reference, resumed, steps: 6...10)
            #expect(worst <= 1e-5, "\(run): updates 6–10 differ from the uninterrupted run's by \(worst)")
            print("\(run): updates 6–10 within \(worst) of the uninterrupted run")
        }
    }
}
