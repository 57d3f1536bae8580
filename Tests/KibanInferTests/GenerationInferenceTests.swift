import Foundation
import KibanFormats
import KibanModels
import KibanTensor
import KibanTestSupport
import Testing

@testable import KibanInfer

/// Acceptance 3, generation: `kiban infer --generate` on the Llama-style fixture gives transformers'
/// greedy output token for token, and sampling with a seed reproduces itself.
@Suite struct GenerationInferenceTests {
    struct Fixture: Decodable {
        struct Case: Decodable { let prompt: [Int]; let greedy: [Int] }
        let cases: [Case]
        let eos_token_id: Int
        let max_new_tokens: Int
    }

    static func model() throws -> (InferenceModel, Fixture) {
        let fixture = try JSONDecoder().decode(
            Fixture.self, from: Data(contentsOf: TestData.repository.appendingPathComponent("Tests/Fixtures/generation.json")))
        let file = try referenceFixture("llama_clm")
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data((file.metadata["config"] ?? "{}").utf8))
        let llama = LlamaForCausalLM(config, generator: RandomGenerator(seed: 0))
        let names = file.entries.keys.filter { !["input.", "out.", "grad.", "train."].contains(where: $0.hasPrefix) }
        try llama.load(stateDict: Dictionary(uniqueKeysWithValues: try names.map { ($0, try file.tensor($0)) }))
        let folder = try InferFixture.folder("llama-model")
        try HuggingFaceFolder.save(model: llama, config: config, modelType: "llama", architecture: "LlamaForCausalLM", to: folder)
        return (try InferenceModel.load(folder.path), fixture)
    }

    func generate(_ model: InferenceModel, fixture: Fixture, options: GenerationOptions, name: String) throws -> [String: [String]] {
        let folder = try InferFixture.folder("generate-\(name)")
        let prompts = folder.appendingPathComponent("prompts.csv").path
        let rows = fixture.cases.enumerated().map { "p\($0.offset),\($0.element.prompt.map(String.init).joined(separator: " "))" }
        try (["id,sequence"] + rows).joined(separator: "\n").appending("\n").write(toFile: prompts, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("generated.csv").path
        try InferFixture.infer(model, input: prompts) { $0.generation = GenerationRequest(output: output, options: options) }
        return try InferFixture.tableByID(output)
    }

    @Test func greedyGenerationEqualsTransformers() throws {
        let (model, fixture) = try Self.model()
        let table = try generate(model, fixture: fixture, options: GenerationOptions(
            maxNewTokens: fixture.max_new_tokens, stopTokens: [fixture.eos_token_id]), name: "greedy")
        for (index, item) in fixture.cases.enumerated() {
            #expect(table["p\(index)"]?[1] == item.greedy.map(String.init).joined(separator: " "), "prompt \(index)")
        }
        #expect(table["p0"]?[2] == "stop_token" && table["p1"]?[2] == "max_new_tokens")
    }

    @Test func sampledGenerationReproducesItsSeed() throws {
        let (model, fixture) = try Self.model()
        let sampled = { (seed: UInt64, name: String) in
            try self.generate(model, fixture: fixture, options: GenerationOptions(maxNewTokens: 10, temperature: 1.2, topK: 20, topP: 0.9, seed: seed), name: name)
        }
        let first = try sampled(7, "a"), again = try sampled(7, "b"), other = try sampled(8, "c")
        #expect(first == again)
        #expect(first != other)
    }
}
