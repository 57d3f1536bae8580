import Foundation
import KibanData
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// The real all-MiniLM-L6-v2 (fetched by `Examples/fetch_minilm.sh`) in Kiban: strict loading,
/// tokenisation equal to Hugging Face's, and sentence embeddings equal to sentence-transformers'
/// (reference values from `Tests/Fixtures/make_minilm_reference.py`).
@Suite("all-MiniLM-L6-v2 parity")
struct MiniLMParityTests {
    struct Reference: Decodable {
        struct Input: Decodable {
            let text: String
            let input_ids: [Int]
            let mean_pooled: [Double]
            let normalized: [Double]
        }
        let inputs: [Input]
    }

    static let modelFolder = TestData.miniLMFolder

    /// Checkpoint keys the Kiban model does not hold: a buffer of position indices 0..<512.
    static let documentedExtraKeys: Set<String> = ["embeddings.position_ids"]

    @Test func embeddingsMatchSentenceTransformers() throws {
        _ = try TestData.miniLMFile("model.safetensors")
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: TestData.repository.appendingPathComponent("Tests/Fixtures/minilm_reference.json")))
        #expect(reference.inputs.count >= 30)
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: Self.modelFolder.appendingPathComponent("tokenizer.json"))
        let model = BertModel(try HuggingFaceFolder.config(BertConfig.self, in: Self.modelFolder), pooling: true, generator: RandomGenerator(seed: 0))
        let report = try HuggingFaceFolder.loadWeights(into: model, from: Self.modelFolder, ignoring: Self.documentedExtraKeys)
        #expect(report.isClean)
        model.eval()
        var worstCosine = 1.0, worstError = 0.0
        for input in reference.inputs {
            let ids = tokenizer.encode(input.text, maxLength: 512)
            #expect(ids == input.input_ids, "token ids differ for \(input.text.prefix(40))")
            let hidden = withNoGrad { model(IndexTensor(shape: [1, ids.count], values: ids)) }
            let pooled = Pooling.mean(hidden, mask: nil).toArray().map(Double.init)
            let norm = pooled.map { $0 * $0 }.reduce(0, +).squareRoot()
            for (actual, expected) in [(pooled, input.mean_pooled), (pooled.map { $0 / norm }, input.normalized)] {
                let dot = zip(actual, expected).map(*).reduce(0, +)
                let cosine = dot / (actual.map { $0 * $0 }.reduce(0, +).squareRoot() * expected.map { $0 * $0 }.reduce(0, +).squareRoot())
                worstCosine = min(worstCosine, cosine)
                worstError = max(worstError, zip(actual, expected).map { abs($0 - $1) }.max() ?? 0)
            }
        }
        print("all-MiniLM-L6-v2: \(reference.inputs.count) inputs, worst cosine \(worstCosine), worst |Δ| \(worstError)")
        #expect(worstCosine >= 0.99999, "worst cosine \(worstCosine)")
        #expect(worstError <= 1e-4, "worst absolute error \(worstError)")
    }
}
