import Foundation
import KibanModels
import KibanTensor
import KibanTestSupport
import Testing

/// The parts of `Tests/Fixtures/generation.json` (from `make_inference_fixtures.py`) the tests read:
/// transformers' greedy `generate` of the `llama_clm` model.
private struct GenerationReference: Decodable {
    struct Case: Decodable {
        let prompt: [Int]
        let greedy: [Int]
        let stopped_at_eos: Bool
    }

    let eos_token_id: Int
    let max_new_tokens: Int
    let cases: [Case]

    static func load() throws -> GenerationReference {
        let url = TestData.repository.appendingPathComponent("Tests/Fixtures/generation.json")
        return try JSONDecoder().decode(GenerationReference.self, from: Data(contentsOf: url))
    }
}

/// The tiny Llama of `llama_clm.safetensors` with its fixture weights.
private func fixtureLlama() throws -> LlamaForCausalLM {
    let fixture = try ModelFixture("llama_clm")
    let model = LlamaForCausalLM(try fixture.config(LlamaConfig.self), generator: RandomGenerator(seed: 0))
    try model.load(stateDict: fixture.stateDict())
    return model
}

@Suite("Generation with LlamaForCausalLM")
struct GenerationTests {
    @Test func greedyMatchesTransformersTokenForToken() throws {
        let (model, reference) = (try fixtureLlama(), try GenerationReference.load())
        let options = GenerationOptions(maxNewTokens: reference.max_new_tokens, stopTokens: [reference.eos_token_id])
        #expect(reference.cases.map(\.stopped_at_eos) == [true, false])
        for item in reference.cases {
            let generated = try model.generate(prompt: item.prompt, options: options)
            #expect(generated.tokens == item.greedy, "prompt \(item.prompt)")
            #expect(generated.stopReason == (item.stopped_at_eos ? .stopToken : .maxNewTokens))
        }
        let batch = try model.generate(prompts: reference.cases.map(\.prompt), options: options)
        #expect(batch.map(\.tokens) == reference.cases.map(\.greedy))
    }

    /// The cached decoding equals recomputing the whole sequence each step: the greedy argmax of
    /// the full forward pass's last position.
    @Test func cachedDecodingEqualsFullRecomputation() throws {
        let model = try fixtureLlama()
        var sequence = [4, 8, 15, 16, 23]
        let generated = try model.generate(prompt: sequence, options: GenerationOptions(maxNewTokens: 6))
        for token in generated.tokens {
            let logits = withNoGrad { model(IndexTensor(shape: [1, sequence.count], values: sequence)) }
            let last = Array(logits.toArray().suffix(model.config.vocabularySize))
            #expect(token == last.indices.max { last[$0] < last[$1] })  // the first of equal maxima
            sequence.append(token)
        }
    }

    @Test func sampledGenerationIsReproducibleAndDependsOnTheSeed() throws {
        let model = try fixtureLlama()
        let prompt = [3, 14, 15, 9]
        func sample(seed: UInt64) throws -> [Int] {
            try model.generate(prompt: prompt, options: GenerationOptions(maxNewTokens: 16, temperature: 1, seed: seed)).tokens
        }
        let first = try sample(seed: 7)
        #expect(first.count == 16)
        #expect(try sample(seed: 7) == first)
        let others = try (8..<12).map { try sample(seed: $0) }
        #expect(others.allSatisfy { $0 != first }, "\(others) vs \(first)")
        let greedy = try model.generate(prompt: prompt, options: GenerationOptions(maxNewTokens: 16)).tokens
        #expect(first != greedy)
    }

    @Test func topKOfOneIsGreedy() throws {
        let model = try fixtureLlama()
        for prompt in [[3, 14, 15, 9], [27, 1, 8]] {
            let greedy = try model.generate(prompt: prompt, options: GenerationOptions(maxNewTokens: 10)).tokens
            for seed in [UInt64(0), 1, 2] {
                let options = GenerationOptions(maxNewTokens: 10, temperature: 1.5, topK: 1, seed: seed)
                #expect(try model.generate(prompt: prompt, options: options).tokens == greedy)
            }
        }
    }

    @Test func stopsAtAStopTokenAndKeepsIt() throws {
        let model = try fixtureLlama()
        let free = try model.generate(prompt: [2, 7], options: GenerationOptions(maxNewTokens: 8, temperature: 1, seed: 3))
        let stop = free.tokens[3]
        let firstStop = free.tokens.firstIndex(of: stop)!
        let stopped = try model.generate(
            prompt: [2, 7], options: GenerationOptions(maxNewTokens: 8, temperature: 1, stopTokens: [stop], seed: 3))
        #expect(stopped.tokens == Array(free.tokens[...firstStop]))
        #expect(stopped.stopReason == .stopToken)
        #expect(try model.generate(prompt: [2, 7], options: GenerationOptions(maxNewTokens: 0)).tokens.isEmpty)
    }

    @Test func rejectsBadPromptsAndOptions() throws {
        let model = try fixtureLlama()
        let cases: [([Int], GenerationOptions, String)] = [
            ([], GenerationOptions(), "the prompt is empty"),
            ([1, 40], GenerationOptions(), "prompt token 40 is outside the vocabulary 0..<40"),
            ([1, -1], GenerationOptions(), "prompt token -1 is outside the vocabulary 0..<40"),
            ([1], GenerationOptions(maxNewTokens: -1), "maxNewTokens -1 is negative"),
            ([1], GenerationOptions(temperature: -0.5), "temperature -0.5 must be finite and ≥ 0 (0 is greedy)"),
            ([1], GenerationOptions(topK: -2), "topK -2 is negative (0 keeps every token)"),
            ([1], GenerationOptions(topP: 0), "topP 0.0 is not in (0, 1] (1 keeps every token)"),
            ([1], GenerationOptions(topP: 1.5), "topP 1.5 is not in (0, 1] (1 keeps every token)"),
        ]
        for (prompt, options, message) in cases {
            #expect(throws: GenerationError(message)) { try model.generate(prompt: prompt, options: options) }
        }
    }
}
