import Foundation
import KibanData
import KibanFormats
import KibanTestSupport
import Testing

/// `kiban finetune` under `mpirun -np 2`: the same run as one rank accumulating two micro-batches,
/// ZeRO stages that change nothing but memory, and a killed or failing rank that stops the run.
@Suite("Data parallel training", .serialized)
struct DataParallelTests {
    /// A folder with the tiny ESM (dropout 0.1, so each micro-batch's random stream matters), 48
    /// proteins of the proteome and a masked-LM run config with clipping on.
    static func fixture(_ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-dp-\(name)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try TinyESM.writeConfig(to: folder.appendingPathComponent("tiny-esm.yaml"), hiddenDropout: 0.1)
        let proteins = try FASTAReader.readAll(path: TestData.path("protein/bacterial_proteome.faa")).prefix(48)
        try proteins.map { ">\($0.header)\n\($0.sequence)\n" }.joined()
            .write(to: folder.appendingPathComponent("proteins.faa"), atomically: true, encoding: .utf8)
        try """
            run: {name: dp, seed: 3}
            model: {family: esm, config: \(folder.path)/tiny-esm.yaml}
            task: {kind: masked-lm}
            data: {train: \(folder.path)/proteins.faa, validation_fraction: 0.2, max_length: 48}
            train: {max_steps: 10, batch_size: 4, eval_every: 5, checkpoint_every: 4, clip_norm: 1.0}
            schedule: {warmup_steps: 3}
            """.write(to: folder.appendingPathComponent("run.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    /// `kiban finetune` of the fixture's run into `output` at `ranks` ranks (0: without mpirun).
    static func finetune(_ folder: URL, ranks: Int, output: String, _ settings: [String] = []) throws -> String {
        let arguments = ["finetune", "--config", folder.appendingPathComponent("run.yaml").path,
                         "--set", "run.output_dir=\(folder.appendingPathComponent(output).path)"]
            + settings.flatMap { ["--set", $0] }
        let (status, text) = try MPIRun.run(ranks: ranks, arguments)
        #expect(status == 0, "kiban \(arguments.joined(separator: " ")) at \(ranks) ranks:\n\(text)")
        return text
    }

    /// Each logged update's loss and gradient norm, and each evaluation's metrics, by step.
    static func trajectory(_ run: URL) throws -> (train: [Int: [Double]], evaluations: [Int: [String: Double]]) {
        var train: [Int: [Double]] = [:], evaluations: [Int: [String: Double]] = [:]
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        for line in text.split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let step = try #require(record["step"] as? Int)
            if record["kind"] as? String == "train" {
                train[step] = [try #require(record["loss"] as? Double), try #require(record["grad_norm"] as? Double)]
            } else {
                evaluations[step] = record.compactMapValues { $0 as? Double }.filter { $0.key.hasPrefix("validation_") }
            }
        }
        return (train, evaluations)
    }

    /// Every dataset of a checkpoint (model and optimizer moments), by path.
    static func checkpoint(_ url: URL) throws -> [String: [Float]] {
        let file = try HDF5File(path: url.path, mode: .read)
        var tensors: [String: [Float]] = [:]
        for group in ["/model", "/optimizer"] {
            for name in try file.datasetNames(in: group) { tensors["\(group)/\(name)"] = try file.readFloats("\(group)/\(name)").values }
        }
        return tensors
    }

    @Test func twoRanksEqualOneRankAccumulatingTwoMicroBatchesBitForBit() throws {
        let folder = try Self.fixture("equal")
        _ = try Self.finetune(folder, ranks: 0, output: "one", ["train.accumulation=2"])
        let text = try Self.finetune(folder, ranks: 2, output: "two")
        #expect(text.contains("2 ranks × 1 threads, data parallel over 2; global batch 8 = 4 × 2 ranks × 1"), "\(text)")
        let one = try Self.trajectory(folder.appendingPathComponent("one"))
        let two = try Self.trajectory(folder.appendingPathComponent("two"))
        #expect(one.train.count == 10 && one.evaluations.count == 2)
        #expect(one.train == two.train, "losses and gradient norms differ:\n\(one.train)\n\(two.train)")
        #expect(one.evaluations == two.evaluations)
        #expect(one.train[1]![1] > 1, "the first gradient norm should be clipped, so clipping is compared too")
        let a = try Self.checkpoint(folder.appendingPathComponent("one/last.h5"))
        let b = try Self.checkpoint(folder.appendingPathComponent("two/last.h5"))
        #expect(a.count > 10 && a == b, "checkpoints differ in \(a.keys.filter { a[$0] != b[$0] }.sorted())")
    }

    @Test(arguments: [1, 2])
    func zeroStagesGiveTheParametersOfPlainDataParallel(stage: Int) throws {
        let folder = try Self.fixture("zero\(stage)")
        _ = try Self.finetune(folder, ranks: 2, output: "plain")
        let text = try Self.finetune(folder, ranks: 2, output: "zero", ["train.zero_stage=\(stage)"])
        #expect(text.contains("with ZeRO-\(stage)"), "\(text)")
        #expect(try Self.trajectory(folder.appendingPathComponent("plain")).train == Self.trajectory(folder.appendingPathComponent("zero")).train)
        let plain = try Self.checkpoint(folder.appendingPathComponent("plain/last.h5"))
        let zero = try Self.checkpoint(folder.appendingPathComponent("zero/last.h5"))
        #expect(plain["/optimizer/first_moment"] != nil && plain == zero, "differ in \(plain.keys.filter { plain[$0] != zero[$0] }.sorted())")
    }
}
