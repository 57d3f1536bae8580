import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import Testing

/// Hugging Face folders write a tied weight once, as transformers 5.24's `save_pretrained` does
/// (it drops each `_tied_weights_keys` target), and load back with the tie restored.
@Suite("Hugging Face folders and tied weights")
struct HuggingFaceFolderTests {
    /// Saves `model`, expects the file to hold every state-dict key but `dropped`, and reloads it
    /// strictly into `fresh`, expecting every key (aliases included) to come back.
    func expectTiedWeightsWrittenOnce<Config: Codable>(
        _ model: Module, config: Config, modelType: String, architecture: String, dropped: Set<String>, fresh: (Config) -> Module
    ) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try HuggingFaceFolder.save(model: model, config: config, modelType: modelType, architecture: architecture, to: folder)
        let written = Set(try SafeTensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors")).entries.keys)
        let state = model.stateDict()
        #expect(model.tiedAliases() == dropped)
        #expect(written == Set(state.keys).subtracting(dropped), "\(architecture) writes \(written.symmetricDifference(Set(state.keys)))")
        let reloaded = fresh(try HuggingFaceFolder.config(Config.self, in: folder))
        try HuggingFaceFolder.loadWeights(into: reloaded, from: folder)
        let restored = reloaded.stateDict()
        for (name, value) in state { #expect(restored[name]?.toArray() == value.toArray(), "\(architecture): \(name)") }
    }

    @Test func esmWritesItsDecoderOnce() throws {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (16, 1, 2, 32)
        try expectTiedWeightsWrittenOnce(
            EsmForMaskedLM(config, generator: RandomGenerator(seed: 1)), config: config, modelType: "esm", architecture: "EsmForMaskedLM",
            dropped: ["lm_head.decoder.weight"], fresh: { EsmForMaskedLM($0, generator: RandomGenerator(seed: 0)) })
    }

    @Test func bertWritesItsDecoderWeightAndBiasOnce() throws {
        var config = BertConfig()
        (config.vocabularySize, config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (40, 16, 1, 2, 32)
        config.maximumPositions = 16
        try expectTiedWeightsWrittenOnce(
            BertForMaskedLM(config, generator: RandomGenerator(seed: 1)), config: config, modelType: "bert", architecture: "BertForMaskedLM",
            dropped: ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"],
            fresh: { BertForMaskedLM($0, generator: RandomGenerator(seed: 0)) })
    }

    /// Llama's head is an alias only with `tie_word_embeddings`; untied, both matrices are written.
    @Test(arguments: [true, false])
    func llamaWritesItsHeadOnceOnlyWhenTied(tied: Bool) throws {
        var config = LlamaConfig()
        (config.vocabularySize, config.hiddenSize, config.intermediateSize, config.layerCount) = (30, 16, 24, 1)
        (config.headCount, config.keyValueHeadCount, config.tieWordEmbeddings) = (4, 2, tied)
        try expectTiedWeightsWrittenOnce(
            LlamaForCausalLM(config, generator: RandomGenerator(seed: 1)), config: config, modelType: "llama", architecture: "LlamaForCausalLM",
            dropped: tied ? ["lm_head.weight"] : [], fresh: { LlamaForCausalLM($0, generator: RandomGenerator(seed: 0)) })
    }

    /// A tied parameter loads from either key, but one with neither key is still missing.
    @Test func aTiedParameterNeedsOneOfItsKeys() throws {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (16, 1, 2, 32)
        let source = EsmForMaskedLM(config, generator: RandomGenerator(seed: 1)).stateDict()
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        var onlyAlias = source
        onlyAlias["esm.embeddings.word_embeddings.weight"] = nil
        try model.load(stateDict: onlyAlias)
        #expect(model.stateDict()["esm.embeddings.word_embeddings.weight"]?.toArray() == source["lm_head.decoder.weight"]?.toArray())
        onlyAlias["lm_head.decoder.weight"] = nil
        let report = try model.load(stateDict: onlyAlias, strict: false)
        #expect(report.missing == ["esm.embeddings.word_embeddings.weight", "lm_head.decoder.weight"])
    }
}
