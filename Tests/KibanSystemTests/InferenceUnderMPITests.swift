import Foundation
import KibanData
import KibanFormats
import Testing

/// `kiban infer` under `mpirun -np 2`: the ranks share the records and rank 0 writes files equal to
/// a single process's.
@Suite("Inference under MPI", .serialized)
struct InferenceUnderMPITests {
    /// Every dataset of an embeddings file (floats and integers as doubles), by path.
    static func datasets(_ url: URL) throws -> [String: [Double]] {
        let file = try HDF5File(path: url.path, mode: .read)
        var result: [String: [Double]] = [:]
        for group in ["/", "/layer_1", "/layer_2"] {
            for name in try file.datasetNames(in: group) where name != "ids" {
                let path = group == "/" ? "/\(name)" : "\(group)/\(name)"
                result[path] = name == "lengths" || name == "offsets"
                    ? try file.readInts(path).values.map(Double.init) : try file.readFloats(path).values.map(Double.init)
            }
        }
        return result
    }

    @Test func twoRanksWriteWhatOneProcessWrites() throws {
        let folder = try DataParallelTests.fixture("infer")
        let model = folder.appendingPathComponent("model")
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "model")
        let proteins = folder.appendingPathComponent("proteins.faa").path
        let first = try #require(try FASTAReader.readAll(path: proteins).first)
        let residues = Array(first.sequence)
        let mutants = [2, 5, 9].map { "\(residues[$0 - 1])\($0)\(residues[$0 - 1] == "A" ? "G" : "A")" }
        try (["id,mutant"] + mutants.map { "\(first.header.split(separator: " ")[0]),\($0)" }).joined(separator: "\n")
            .write(to: folder.appendingPathComponent("variants.csv"), atomically: true, encoding: .utf8)

        for ranks in [0, 2] {
            let out = folder.appendingPathComponent("out-\(ranks)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let runs = [
                ["--embeddings", out.appendingPathComponent("embeddings.h5").path, "--include", "mean", "per_tok", "--layers", "1,-1"],
                ["--scores", out.appendingPathComponent("pll.csv").path, "--limit", "5"],
                ["--scores", out.appendingPathComponent("variants.csv").path, "--variants", folder.appendingPathComponent("variants.csv").path, "--limit", "3"],
            ]
            for extra in runs {
                let (status, text) = try MPIRun.run(ranks: ranks, ["infer", "--model", model.path, "--input", proteins, "--long", "truncate", "--quiet"] + extra)
                #expect(status == 0, "kiban infer at \(ranks) ranks \(extra):\n\(text)")
            }
        }
        let (one, two) = (folder.appendingPathComponent("out-0"), folder.appendingPathComponent("out-2"))
        let embeddings = try Self.datasets(one.appendingPathComponent("embeddings.h5"))
        #expect(embeddings.keys.contains("/layer_2/per_tok") && embeddings["/lengths"]?.count == 48)
        #expect(embeddings == (try Self.datasets(two.appendingPathComponent("embeddings.h5"))))
        let ids = { (url: URL) in try HDF5File(path: url.appendingPathComponent("embeddings.h5").path, mode: .read).readStrings("/ids") }
        #expect(try ids(one) == ids(two))
        for table in ["pll.csv", "variants.csv"] {
            let expected = try String(contentsOf: one.appendingPathComponent(table), encoding: .utf8)
            #expect(expected.split(separator: "\n").count > 3)
            #expect(try String(contentsOf: two.appendingPathComponent(table), encoding: .utf8) == expected, "\(table) differs")
        }
    }
}
