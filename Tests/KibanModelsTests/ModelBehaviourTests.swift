import Foundation
import KibanModels
import KibanNN
import KibanTensor
import Testing

/// Model behaviour beyond parity: padding, incremental decoding, seeded initialisation, configs.
@Suite("Model behaviour")
struct ModelBehaviourTests {
    static var tinyBert: BertConfig {
        var config = BertConfig()
        (config.vocabularySize, config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (40, 16, 2, 4, 32)
        (config.hiddenDropout, config.attentionDropout, config.maximumPositions) = (0, 0, 16)
        return config
    }

    static var tinyLlama: LlamaConfig {
        var config = LlamaConfig()
        (config.vocabularySize, config.hiddenSize, config.intermediateSize, config.layerCount) = (30, 16, 24, 2)
        (config.headCount, config.keyValueHeadCount) = (4, 2)
        return config
    }

    static var tinyEsm: EsmConfig {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (16, 2, 4, 32)
        return config
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test func paddingNeverChangesRealTokensInBert() {
        let model = BertForMaskedLM(Self.tinyBert, generator: RandomGenerator(seed: 1))
        model.eval()
        let short = model(IndexTensor(shape: [1, 5], values: [2, 7, 9, 11, 3]))
        let padded = model(
            IndexTensor(shape: [1, 8], values: [2, 7, 9, 11, 3, 0, 0, 0]),
            attentionMask: Tensor(shape: [1, 8], values: [1, 1, 1, 1, 1, 0, 0, 0]))
        #expect(maxDifference(padded.sliced(axis: 1, 0..<5), short) < 1e-5)
    }

    @Test func attentionDropoutActsOnlyInTraining() {
        var config = Self.tinyBert
        config.attentionDropout = 0.5
        let model = BertForMaskedLM(config, generator: RandomGenerator(seed: 6))
        let ids = IndexTensor(shape: [1, 5], values: [2, 7, 9, 11, 3])
        model.train()
        #expect(model(ids).toArray() != model(ids).toArray())
        model.eval()
        #expect(model(ids).toArray() == model(ids).toArray())
    }

    @Test func paddingNeverChangesRealTokensInEsm() {
        let model = EsmForMaskedLM(Self.tinyEsm, generator: RandomGenerator(seed: 2))
        model.eval()
        let short = model(IndexTensor(shape: [1, 6], values: [0, 5, 32, 8, 13, 2]))
        let padded = model(
            IndexTensor(shape: [1, 9], values: [0, 5, 32, 8, 13, 2, 1, 1, 1]),
            attentionMask: Tensor(shape: [1, 9], values: [1, 1, 1, 1, 1, 1, 0, 0, 0]))
        #expect(maxDifference(padded.sliced(axis: 1, 0..<6), short) < 1e-5)
    }

    @Test func incrementalDecodingMatchesTheFullForwardPass() {
        let model = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 3))
        let tokens = [3, 17, 4, 28, 9, 1, 12]
        let full = model(IndexTensor(shape: [1, tokens.count], values: tokens))
        let cache = KeyValueCache()
        var steps = [model(IndexTensor(shape: [1, 3], values: Array(tokens[0..<3])), cache: cache)]
        for token in tokens[3...] { steps.append(model(IndexTensor(shape: [1, 1], values: [token]), cache: cache)) }
        #expect(cache.length == tokens.count)
        #expect(maxDifference(Tensor.concatenate(steps, axis: 1), full) < 1e-5)
    }

    @Test func seededInitialisationIsReproducible() {
        let first = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 4)).stateDict()
        let second = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 4)).stateDict()
        let other = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 5)).stateDict()
        #expect(first.keys.sorted() == second.keys.sorted())
        #expect(first.allSatisfy { $0.value.toArray() == second[$0.key]!.toArray() })
        #expect(first["lm_head.weight"]!.toArray() != other["lm_head.weight"]!.toArray())
    }

    @Test func esm2EightMillionHasTheTransformersParameterCount() throws {
        guard case .esm(let config) = try ModelConfigFile.load(path: Self.configPath("esm2-8m.yaml")) else {
            Issue.record("esm2-8m.yaml is not an ESM config")
            return
        }
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        // sum(p.numel() for p in transformers.EsmForMaskedLM(<this config>).parameters()): the tied
        // decoder counted once, the rotary buffer not at all.
        #expect(model.parameterCount - model.esm.rotaryInverseFrequencies.value.count == 7_512_474)
        model.freeze()
        #expect(model.trainableParameters().isEmpty)
        model.unfreeze()
        #expect(model.trainableParameters().count == model.uniqueParameters().count - 1)
    }

    /// Model configs are the YAML files with a top-level `config:` section (run configs have `run:`).
    @Test func everyCommittedConfigLoads() throws {
        let folder = URL(fileURLWithPath: Self.configPath(""))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { name in
            name.hasSuffix(".yaml")
                && (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))?.contains("\nconfig:\n") == true
        }
        #expect(files.count >= 5)
        for file in files { _ = try ModelConfigFile.load(path: folder.appendingPathComponent(file).path) }
    }

    @Test func badConfigsNameTheKey() throws {
        let typeError = #expect(throws: (any Error).self) {
            try ModelConfigFile.parse(yaml: "model: bert\nconfig:\n  hidden_size: wide\n")
        }
        #expect("\(typeError!)".contains("hidden_size"))
        let divisibility = #expect(throws: (any Error).self) {
            try ModelConfigFile.parse(yaml: "model: llama\nconfig:\n  hidden_size: 30\n  num_attention_heads: 4\n")
        }
        #expect("\(divisibility!)".contains("hidden_size"))
        let unknown = #expect(throws: (any Error).self) { try ModelConfigFile.parse(yaml: "model: gpt\nconfig: {}\n") }
        #expect("\(unknown!)".contains("model"))
        #expect(throws: (any Error).self) { try ModelConfigFile.load(path: "/nonexistent/config.yaml") }
    }

    static func configPath(_ file: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Configs/\(file)").path
    }
}
