import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import Testing

/// Adapters for `PeftModel.from_pretrained` (checked by `Tests/Interop/check_interop.py`): a DoRA
/// adapter with a per-layer rank and α and a module to save on a tiny ESM, and a LoRA adapter with a
/// `classifier` head to save on all-MiniLM-L6-v2. Each reloads in Kiban with identical outputs.
extension InteropArtifactTests {
    /// Gives every adapter of `model` random non-zero B (and for DoRA a magnitude off ‖W‖).
    func perturbAdapters(of model: Module, seed: UInt64, scale: Float) {
        let generator = RandomGenerator(seed: seed)
        for case let linear as Linear in model.namedModules().map(\.module) {
            for (_, adapter) in linear.adapters {
                withNoGrad {
                    adapter.up.weight.value.assign(Tensor.randn(adapter.up.weight.shape, scale: scale, generator: generator))
                    if let magnitude = adapter.magnitude?.weight.value {
                        magnitude.assign(magnitude * (Tensor.randn(magnitude.shape, scale: 0.2, generator: generator) + 1))
                    }
                }
            }
        }
    }

    /// `peft_dora_base/` + `peft_dora_adapter/`: DoRA on query/value (value of layer 1 at rank 2,
    /// every value layer at α 3) with `lm_head.dense` trained in full and saved alongside.
    @Test func doraAdapterForPEFT() throws {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (32, 2, 4, 64)
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 18))
        let base = Self.folder.appendingPathComponent("peft_dora_base"), adapterFolder = Self.folder.appendingPathComponent("peft_dora_adapter")
        try HuggingFaceFolder.save(model: model, config: config, modelType: "esm", architecture: "EsmForMaskedLM", to: base)
        let dora = LoRAConfiguration(
            rank: 4, alpha: 8, targetModules: [#"attention\.self\.(query|value)$"#], useDoRA: true, modulesToSave: [#"^lm_head\.dense$"#],
            rankPattern: [#"layer\.1\.attention\.self\.value"#: 2], alphaPattern: ["value": 3])
        try LoRA.apply(to: model, configuration: dora, generator: RandomGenerator(seed: 19))
        #expect(model.trainableParameters().map(\.name).contains("lm_head.dense.modules_to_save.default.weight"))
        perturbAdapters(of: model, seed: 20, scale: 0.2)
        withNoGrad { model.dense.weight.value.addInPlace(Tensor.randn(model.dense.weight.shape, scale: 0.05, generator: RandomGenerator(seed: 21))) }
        model.eval()
        try PEFTAdapterFolder.save(model: model, configuration: dora, to: adapterFolder)
        let logits = model(Self.ids, attentionMask: Self.mask)
        try writeLogits(logits, to: adapterFolder)

        let fields = try JSONSerialization.jsonObject(with: Data(contentsOf: adapterFolder.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(fields["use_dora"] as? Bool == true && fields["modules_to_save"] as? [String] == ["lm_head.dense"])
        #expect(fields["rank_pattern"] as? [String: Int] == ["esm.encoder.layer.1.attention.self.value": 2])
        #expect((fields["alpha_pattern"] as? [String: Double])?.count == 2)
        let keys = try SafeTensorsFile(contentsOf: adapterFolder.appendingPathComponent("adapter_model.safetensors")).entries.keys
        #expect(keys.contains("base_model.model.lm_head.dense.bias") && keys.contains("base_model.model.esm.encoder.layer.0.attention.self.query.lora_magnitude_vector"))

        let reloaded = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        try HuggingFaceFolder.loadWeights(into: reloaded, from: base)
        let configuration = try PEFTAdapterFolder.load(into: reloaded, from: adapterFolder)
        #expect(configuration.useDoRA && reloaded.esm.layers[1].selfAttention.value.adapters[0].adapter.down.weight.shape == [2, 32])
        #expect(reloaded.trainableParameters().map(\.name).contains("lm_head.dense.modules_to_save.default.bias"))
        reloaded.eval()
        #expect(reloaded(Self.ids, attentionMask: Self.mask).toArray() == logits.toArray())
    }

    /// `minilm_lora/`: LoRA on query/value of all-MiniLM-L6-v2 as `BertForSequenceClassification`
    /// (3 labels) with the `classifier` saved in full; `base_model_name_or_path` names the model folder.
    /// Kiban's logits and last hidden states go beside it; the folder loads back into Kiban.
    @Test func loraAdapterOnMiniLMForPEFT() throws {
        let modelFolder = MiniLMParityTests.modelFolder
        guard FileManager.default.fileExists(atPath: modelFolder.appendingPathComponent("model.safetensors").path) else {
            Issue.record("\(modelFolder.path) is missing: run Examples/fetch_minilm.sh")
            return
        }
        var config = try HuggingFaceFolder.config(BertConfig.self, in: modelFolder)
        config.labelCount = 3
        let model = BertForSequenceClassification(config, generator: RandomGenerator(seed: 30))
        try HuggingFaceFolder.loadWeights(into: model.bert, from: modelFolder, ignoring: MiniLMParityTests.documentedExtraKeys)
        let lora = LoRAConfiguration(rank: 4, alpha: 8, targetModules: [#"attention\.self\.(query|value)$"#], modulesToSave: ["^classifier$"])
        #expect(try LoRA.apply(to: model, configuration: lora, generator: RandomGenerator(seed: 31)).count == 12)
        perturbAdapters(of: model, seed: 32, scale: 0.1)
        withNoGrad { model.classifier.bias!.value.assign(Tensor.randn([3], scale: 0.1, generator: RandomGenerator(seed: 33))) }
        model.eval()
        let folder = Self.folder.appendingPathComponent("minilm_lora")
        try PEFTAdapterFolder.save(model: model, configuration: lora, baseModel: modelFolder.path, to: folder)
        // "a small test sentence." / "this is another example", padded.
        let ids = IndexTensor(shape: [2, 8], values: [101, 1037, 2235, 3231, 6251, 1012, 102, 0, 101, 2023, 2003, 2178, 2742, 102, 0, 0])
        let mask = Tensor(shape: [2, 8], values: [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0])
        let logits = model(ids, attentionMask: mask), hidden = model.bert(ids, attentionMask: mask)
        try SafeTensorsFile.write(
            ["logits": .float32(logits), "last_hidden_state": .float32(hidden), "input_ids": .int64(ids),
             "attention_mask": .int64(IndexTensor(shape: [2, 8], values: mask.toArray().map { Int($0) }))],
            to: folder.appendingPathComponent("kiban_logits.safetensors"))

        // Reload into the same model (building another costs ~20 s in debug): drop the adapter, clear the head.
        try model.deleteAdapter("default")
        withNoGrad { [model.classifier.weight, model.classifier.bias!].forEach { $0.value.fill(0) } }
        try PEFTAdapterFolder.load(into: model, from: folder)
        model.eval()
        #expect(model(ids, attentionMask: mask).toArray() == logits.toArray())
    }
}
