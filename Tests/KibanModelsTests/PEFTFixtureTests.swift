import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// LoRA and DoRA adapters trained and saved by PEFT (`Tests/Fixtures/make_peft_fixture.py`) load
/// into Kiban's ESM and give PEFT's logits, loss and adapter gradients.
@Suite("PEFT-trained adapter in Kiban")
struct PEFTFixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The esm_mlm fixture's model with the PEFT adapter of `folder` (under Tests/Fixtures) loaded.
    static func adaptedEsm(_ folder: String) throws -> (EsmForMaskedLM, LoRAConfiguration) {
        let base = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try base.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: base.stateDict())
        let configuration = try PEFTAdapterFolder.load(into: model, from: fixtures.appendingPathComponent(folder))
        model.eval()
        return (model, configuration)
    }

    @Test func peftAdapterGivesPeftLogits() throws {
        let (model, configuration) = try Self.adaptedEsm("peft_esm")
        #expect(configuration.rank == 4 && configuration.scaling == 2 && !configuration.useDoRA)
        let reference = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("peft_esm/logits.safetensors"))
        let worst = try Self.expectLogits(of: model, on: reference, key: "logits")
        #expect(worst <= 1e-4, "max |Δ| \(worst)")
    }

    /// Runs `model` on the fixture's `input.*` tensors, expects its logits to match `key` within the
    /// value tolerance, and returns the largest |Δ|.
    static func expectLogits(of model: EsmForMaskedLM, on reference: SafeTensorsFile, key: String) throws -> Double {
        let mask = try reference.indices("input.attention_mask")
        let logits = model(try reference.indices("input.input_ids"), attentionMask: Tensor(shape: mask.shape, values: mask.values.map(Float.init)))
        let (shape, values) = try reference.doubles(key)
        let mismatches = ReferenceComparison.valueMismatches(logits, shape: shape, reference: values)
        #expect(mismatches.isEmpty, "\(key): \(mismatches.count) values off, first \(mismatches.first ?? "")")
        return zip(logits.toArray(), values).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    /// Logits, masked-LM loss and the gradient of every adapter parameter against PEFT's float64
    /// evaluation of the same adapter (`<folder>/gradients.safetensors`).
    func expectPeftGradients(_ folder: String) throws -> Module {
        let (model, _) = try Self.adaptedEsm(folder)
        let reference = try ModelFixture("\(folder)/gradients")
        let logits = model(try reference.indices("input_ids"), attentionMask: try reference.mask("attention_mask"))
        let logitError = try reference.expectValues(logits, "logits")
        let loss = languageModelLoss(logits, labels: try reference.indices("labels"), shift: false)
        try reference.expectValues(loss.reshaped([1]), "loss")
        loss.backward()
        let gradientError = try reference.expectGradients(of: model, trainableOnly: true)
        print("\(folder): logits max |Δ| \(logitError), worst gradient relative error \(gradientError)")
        return model
    }

    @Test func loraGradientsMatchPeft() throws {
        let model = try expectPeftGradients("peft_esm")
        #expect(model.trainableParameters().count == 8)
    }

    /// DoRA: PEFT detaches the weight norm, so these gradients hold it constant.
    @Test func doraAdapterGivesPeftLogitsAndGradients() throws {
        let model = try expectPeftGradients("peft_esm_dora")
        let names = model.trainableParameters().map(\.name)
        #expect(names.count == 12 && names.contains("esm.encoder.layer.1.attention.self.value.lora_magnitude_vector.default.weight"))
    }

    /// Merging every DoRA layer keeps PEFT's logits; unmerging restores the base weights.
    @Test func mergedDoraAdapterKeepsPeftLogits() throws {
        let (model, configuration) = try Self.adaptedEsm("peft_esm_dora")
        #expect(configuration.useDoRA)
        let reference = try ModelFixture("peft_esm_dora/gradients")
        let (ids, mask) = (try reference.indices("input_ids"), try reference.mask("attention_mask"))
        let layers = model.namedModules().compactMap { $0.module as? Linear }.filter { !$0.adapters.isEmpty }
        let weights = layers.map { $0.weight.value.toArray() }
        #expect(layers.count == 4)
        for layer in layers { layer.merge() }
        try reference.expectValues(withNoGrad { model(ids, attentionMask: mask) }, "logits")
        for layer in layers { layer.unmerge() }
        for (layer, original) in zip(layers, weights) {
            let scale = original.map(abs).max()!
            #expect(zip(layer.weight.value.toArray(), original).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
        }
    }
}
