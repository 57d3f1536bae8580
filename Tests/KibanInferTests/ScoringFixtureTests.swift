import Foundation
import KibanData
import KibanFormats
import KibanModels
import KibanTensor
import KibanTestSupport
import Testing

@testable import KibanInfer

/// Acceptance 3 through `kiban infer`: pseudo-log-likelihoods and ESM-1v mutation scores of the
/// tiny ESM-2 fixture equal PyTorch float64 computations of the same formulas
/// (`Tests/Fixtures/make_inference_fixtures.py`), within 1e-4 absolute.
@Suite struct ScoringFixtureTests {
    /// The fixture model (`esm_mlm.safetensors`) saved as a Hugging Face folder.
    static func fixtureFolder() throws -> URL {
        let file = try referenceFixture("esm_mlm")
        let config = try JSONDecoder().decode(EsmConfig.self, from: Data((file.metadata["config"] ?? "{}").utf8))
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        let names = file.entries.keys.filter { !["input.", "out.", "grad.", "train."].contains(where: $0.hasPrefix) }
        try model.load(stateDict: Dictionary(uniqueKeysWithValues: try names.map { ($0, try file.tensor($0)) }))
        let folder = try InferFixture.folder("scoring-model")
        try HuggingFaceFolder.save(model: model, config: config, modelType: "esm", architecture: "EsmForMaskedLM", to: folder)
        return folder
    }

    @Test func pseudoLikelihoodsAndMutationScoresMatchPyTorch() throws {
        let reference = try referenceFixture("esm_scoring")
        let model = try InferenceModel.load(try Self.fixtureFolder().path)
        let folder = try InferFixture.folder("scoring")
        let names = ["long", "rare"]
        let fasta = folder.appendingPathComponent("wild.faa").path
        try names.map { ">\($0)\n\(reference.metadata["\($0).sequence"]!)\n" }.joined().write(toFile: fasta, atomically: true, encoding: .utf8)
        var variantRows = ["id,mutant"]
        for name in names {
            let variants = try JSONDecoder().decode([String].self, from: Data(reference.metadata["\(name).variants"]!.utf8))
            variantRows += variants.map { "\(name),\($0)" }
        }
        let variantFile = folder.appendingPathComponent("variants.csv").path
        try (variantRows.joined(separator: "\n") + "\n").write(toFile: variantFile, atomically: true, encoding: .utf8)
        for batching in [BatchLimit.sequences(1), .tokens(4_096)] {
            let pll = folder.appendingPathComponent("pll.csv").path, mutations = folder.appendingPathComponent("mutations.csv").path
            try InferFixture.infer(model, input: fasta) { ($0.scores, $0.batching, $0.overwrite) = (pll, batching, true) }
            try InferFixture.infer(model, input: fasta) { ($0.scores, $0.variants, $0.batching, $0.overwrite) = (mutations, variantFile, batching, true) }
            let table = try InferFixture.tableByID(pll)
            for name in names {
                let expected = try reference.doubles("\(name).pll").values[0]
                let perplexity = try reference.doubles("\(name).pseudo_perplexity").values[0]
                #expect(abs(Double(table[name]![1])! - expected) <= 1e-4, "\(name): PLL \(table[name]![1]) vs \(expected)")
                #expect(abs(Double(table[name]![2])! - perplexity) / perplexity <= 1e-4)
            }
            let rows = try CSVTable.read(path: mutations)
            let (ids, scores) = (try rows.strings("id"), try rows.doubles("score"))
            for name in names {
                let expected = try reference.doubles("\(name).scores").values
                let ours = zip(ids, scores).filter { $0.0 == name }.map(\.1)
                #expect(ours.count == expected.count)
                let worst = zip(ours, expected).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-4, "\(name): mutation scores differ by \(worst) with \(batching)")
            }
        }
    }

    @Test func aVariantThatDoesNotFitTheSequenceIsNamed() throws {
        let model = try InferenceModel.load(try Self.fixtureFolder().path)
        let folder = try InferFixture.folder("bad-variant")
        let fasta = folder.appendingPathComponent("wild.faa").path
        try ">p1\nMKTAYIAK\n".write(toFile: fasta, atomically: true, encoding: .utf8)
        let variants = folder.appendingPathComponent("variants.csv").path
        try "id,mutant\np1,M1A\np1,K3R\n".write(toFile: variants, atomically: true, encoding: .utf8)
        do {
            try InferFixture.infer(model, input: fasta) { ($0.scores, $0.variants) = (folder.appendingPathComponent("s.csv").path, variants) }
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("variants.csv:3") && "\(error)".contains("K3R") && "\(error)".contains("T"), "\(error)")
        }
        try "id,mutant\np1,M1A\np9,K2R\n".write(toFile: variants, atomically: true, encoding: .utf8)
        do {
            try InferFixture.infer(model, input: fasta) { ($0.scores, $0.variants, $0.overwrite) = (folder.appendingPathComponent("s.csv").path, variants, true) }
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("variants.csv:3") && "\(error)".contains("'p9'"), "\(error)")
        }
    }
}

/// `--adapter DIR` on a Hugging Face base: the PEFT fixtures' LoRA and DoRA adapters, applied and
/// merged, give the same scores and embeddings within 1e-5.
@Suite struct AdapterInferenceTests {
    @Test(arguments: ["peft_esm", "peft_esm_dora"])
    func mergedAdaptersGiveTheSameOutputs(adapter: String) throws {
        let base = try ScoringFixtureTests.fixtureFolder()
        let adapterFolder = TestData.repository.appendingPathComponent("Tests/Fixtures/\(adapter)").path
        let folder = try InferFixture.folder("adapter-\(adapter)")
        let input = try InferFixture.proteinFASTA(named: "adapter-\(adapter).faa")
        var results: [(embeddings: [String: [String: [Float]]], scores: [String: [String]])] = []
        for merge in [false, true] {
            let model = try InferenceModel.load(base.path, options: ModelOptions(adapter: adapterFolder, merge: merge))
            let embeddings = folder.appendingPathComponent("e-\(merge).h5").path, scores = folder.appendingPathComponent("s-\(merge).csv").path
            try InferFixture.infer(model, input: input) { options in
                (options.embeddings, options.scores, options.long, options.maxTokens) = (embeddings, scores, .window, 40)
            }
            results.append((try InferFixture.embeddingsByID(embeddings, datasets: ["/layer_2/mean"]), try InferFixture.tableByID(scores)))
        }
        let plain = try InferenceModel.load(base.path)
        let plainScores = folder.appendingPathComponent("s-plain.csv").path
        try InferFixture.infer(plain, input: input) { ($0.scores, $0.long, $0.maxTokens) = (plainScores, .window, 40) }
        #expect(InferFixture.worstRelativeDifference(results[1].embeddings, results[0].embeddings) <= 1e-5)
        #expect(InferFixture.worstRelativeDifference(results[1].scores, results[0].scores) <= 1e-5)
        #expect(InferFixture.worstRelativeDifference(try InferFixture.tableByID(plainScores), results[0].scores) > 1e-3,
                "the adapter should change the scores")
    }
}
