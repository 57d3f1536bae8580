import Foundation
import KibanTestSupport
import Testing

@testable import KibanInfer

/// Acceptance 2: `kiban infer --include sentence` on all-MiniLM-L6-v2 gives
/// `SentenceTransformer.encode(normalize_embeddings=True)` (the parity reference of the model tests).
@Suite struct MiniLMInferenceTests {
    struct Reference: Decodable {
        struct Input: Decodable { let text: String; let normalized: [Double] }
        let inputs: [Input]
    }

    @Test func sentenceEmbeddingsEqualSentenceTransformers() throws {
        _ = try TestData.miniLMFile("model.safetensors")
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: TestData.repository.appendingPathComponent("Tests/Fixtures/minilm_reference.json")))
        let inputs = reference.inputs.enumerated().filter { !$0.element.text.isEmpty }
        let folder = try InferFixture.folder("minilm")
        let csv = folder.appendingPathComponent("sentences.csv").path
        let rows = inputs.map { "s\($0.offset)," + TableWriter.csvField($0.element.text) }
        try (["id,sequence"] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("e.h5").path
        let model = try InferenceModel.load(TestData.miniLMFolder.path)
        try InferFixture.infer(model, input: csv) { options in
            (options.embeddings, options.include, options.long, options.batching) = (output, [.sentence], .truncate, .sequences(5))
        }
        let embeddings = try InferFixture.embeddingsByID(output, datasets: ["/sentence"])
        var worst = 0.0
        for (index, input) in inputs {
            let row = try #require(embeddings["s\(index)"]?["/sentence"])
            worst = max(worst, zip(row, input.normalized).map { abs(Double($0) - $1) }.max()!)
        }
        print("kiban infer, all-MiniLM-L6-v2: \(inputs.count) inputs, worst |Δ| \(worst)")
        #expect(worst <= 1e-4)
    }
}
