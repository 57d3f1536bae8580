import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor
import KibanTestSupport
import Testing

/// Writes files for the Python interop checks (`Tests/Interop/check_interop.py`, run by `.ci/run`)
/// into `$KIBAN_INTEROP_DIR` (a temporary folder when unset), and checks in Swift that each
/// exported model loads back with identical logits.
@Suite("Interop artifacts", .serialized)
struct InteropArtifactTests {
    static let folder = InteropFolder.url

    /// Token ids every exported masked-LM is evaluated on: (2, 8), row 1 padded after 6.
    static let ids = IndexTensor(shape: [2, 8], values: [0, 5, 9, 32, 13, 7, 11, 2, 0, 20, 4, 6, 8, 2, 1, 1])
    static var mask: Tensor { Tensor(shape: [2, 8], values: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]) }

    func writeLogits(_ logits: Tensor, to folder: URL) throws {
        try SafeTensorsFile.write(
            ["logits": .float32(logits), "input_ids": .int64(Self.ids),
             "attention_mask": .int64(IndexTensor(shape: [2, 8], values: Self.mask.toArray().map { Int($0) }))],
            to: folder.appendingPathComponent("kiban_logits.safetensors"))
    }

    /// Saves `model` as a Hugging Face folder under `name` with Kiban's logits beside it, reloads it
    /// into `fresh` and expects identical logits.
    func exportAndReload<Config: Codable>(
        _ model: Module, config: Config, name: String, modelType: String, architecture: String,
        forward: (Module) -> Tensor, fresh: (Config) -> Module
    ) throws {
        model.eval()
        let folder = Self.folder.appendingPathComponent(name)
        try HuggingFaceFolder.save(model: model, config: config, modelType: modelType, architecture: architecture, to: folder)
        let logits = forward(model)
        try writeLogits(logits, to: folder)
        let reloaded = fresh(try HuggingFaceFolder.config(Config.self, in: folder))
        try HuggingFaceFolder.loadWeights(into: reloaded, from: folder)
        reloaded.eval()
        #expect(forward(reloaded).toArray() == logits.toArray())
    }

    @Test func exportedEsmReloadsWithIdenticalLogits() throws {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (32, 2, 4, 64)
        try exportAndReload(
            EsmForMaskedLM(config, generator: RandomGenerator(seed: 12)), config: config, name: "esm", modelType: "esm",
            architecture: "EsmForMaskedLM", forward: { ($0 as! EsmForMaskedLM)(Self.ids, attentionMask: Self.mask) },
            fresh: { EsmForMaskedLM($0, generator: RandomGenerator(seed: 0)) })
    }

    @Test func exportedBertReloadsWithIdenticalLogits() throws {
        var config = BertConfig()
        (config.vocabularySize, config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (40, 32, 2, 4, 64)
        config.maximumPositions = 16
        try exportAndReload(
            BertForMaskedLM(config, generator: RandomGenerator(seed: 13)), config: config, name: "bert", modelType: "bert",
            architecture: "BertForMaskedLM", forward: { ($0 as! BertForMaskedLM)(Self.ids, attentionMask: Self.mask) },
            fresh: { BertForMaskedLM($0, generator: RandomGenerator(seed: 0)) })
    }

    @Test func loraAdapterForPEFT() throws {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (32, 2, 4, 64)
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 15))
        model.eval()
        let base = Self.folder.appendingPathComponent("peft_base"), adapterFolder = Self.folder.appendingPathComponent("peft_adapter")
        try HuggingFaceFolder.save(model: model, config: config, modelType: "esm", architecture: "EsmForMaskedLM", to: base)
        let lora = LoRAConfiguration(rank: 4, alpha: 8, targetModules: [#"attention\.self\.(query|value)$"#])
        let wrapped = try LoRA.apply(to: model, configuration: lora, generator: RandomGenerator(seed: 16))
        #expect(wrapped.count == 4)
        let generator = RandomGenerator(seed: 17)
        for (path, module) in model.namedModules() where wrapped.contains(path) {
            let adapter = (module as! Linear).adapters[0].adapter
            withNoGrad { adapter.up.weight.value.assign(Tensor.randn(adapter.up.weight.shape, scale: 0.2, generator: generator)) }
        }
        model.eval()
        try PEFTAdapterFolder.save(model: model, configuration: lora, to: adapterFolder)
        let logits = model(Self.ids, attentionMask: Self.mask)
        try writeLogits(logits, to: adapterFolder)
        let reloaded = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        try HuggingFaceFolder.loadWeights(into: reloaded, from: base)
        try PEFTAdapterFolder.load(into: reloaded, from: adapterFolder)
        reloaded.eval()
        #expect(reloaded(Self.ids, attentionMask: Self.mask).toArray() == logits.toArray())
    }
}
