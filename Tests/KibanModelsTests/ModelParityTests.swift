import Foundation
import KibanModels
import KibanNN
import KibanTensor
import Testing

/// Kiban's models against `transformers` (and the hand-written PyTorch composition encoder), computed
/// in float64: identical parameter names, logits, loss, every gradient and 10 AdamW steps.
@Suite("Model parity with PyTorch")
struct ModelParityTests {
    @Test func esmForMaskedLM() throws {
        let fixture = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try fixture.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        #expect(Set(model.namedParameters().map(\.name)) == fixture.parameterNames)
        try model.load(stateDict: fixture.stateDict())
        model.eval()
        let (ids, mask, labels) = (try fixture.indices("input_ids"), try fixture.mask("attention_mask"), try fixture.indices("labels"))
        let logits = model(ids, attentionMask: mask)
        try fixture.expectValues(logits, "out.logits")
        let loss = languageModelLoss(logits, labels: labels, shift: false)
        try fixture.expectValues(loss.reshaped([1]), "out.loss")
        loss.backward()
        try fixture.expectGradients(of: model)
        try fixture.expectTrainingTrajectory(of: model) {
            languageModelLoss(model(ids, attentionMask: mask), labels: labels, shift: false)
        }
    }

    @Test func bertForMaskedLM() throws {
        let fixture = try ModelFixture("bert_mlm")
        let model = BertForMaskedLM(try fixture.config(BertConfig.self), generator: RandomGenerator(seed: 0))
        #expect(Set(model.namedParameters().map(\.name)) == fixture.parameterNames)
        try model.load(stateDict: fixture.stateDict())
        model.eval()
        let ids = try fixture.indices("input_ids"), types = try fixture.indices("token_type_ids")
        let (mask, labels) = (try fixture.mask("attention_mask"), try fixture.indices("labels"))
        let logits = model(ids, attentionMask: mask, tokenTypes: types)
        try fixture.expectValues(logits, "out.logits")
        let loss = languageModelLoss(logits, labels: labels, shift: false)
        try fixture.expectValues(loss.reshaped([1]), "out.loss")
        loss.backward()
        try fixture.expectGradients(of: model)
        try fixture.expectTrainingTrajectory(of: model) {
            languageModelLoss(model(ids, attentionMask: mask, tokenTypes: types), labels: labels, shift: false)
        }
    }

    @Test func llamaForCausalLM() throws {
        let fixture = try ModelFixture("llama_clm")
        let model = LlamaForCausalLM(try fixture.config(LlamaConfig.self), generator: RandomGenerator(seed: 0))
        #expect(Set(model.namedParameters().map(\.name)) == fixture.parameterNames)
        try model.load(stateDict: fixture.stateDict())
        let (ids, labels) = (try fixture.indices("input_ids"), try fixture.indices("labels"))
        let logits = model(ids)
        try fixture.expectValues(logits, "out.logits")
        let loss = languageModelLoss(logits, labels: labels, shift: true)
        try fixture.expectValues(loss.reshaped([1]), "out.loss")
        loss.backward()
        try fixture.expectGradients(of: model)
        try fixture.expectTrainingTrajectory(of: model) { languageModelLoss(model(ids), labels: labels, shift: true) }
    }

    @Test func materialsEncoder() throws {
        let fixture = try ModelFixture("composition")
        let model = MaterialsEncoder(try fixture.config(MaterialsEncoderConfig.self), generator: RandomGenerator(seed: 0))
        #expect(Set(model.namedParameters().map(\.name)) == fixture.parameterNames)
        try model.load(stateDict: fixture.stateDict())
        let elements = try fixture.indices("elements"), mask = try fixture.mask("mask")
        let fractions = try fixture.file.tensor("input.fractions"), targets = try fixture.file.tensor("input.targets")
        let forward = { () -> Tensor in model(elements: elements, fractions: fractions, mask: mask) }
        let predictions = forward()
        try fixture.expectValues(predictions, "out.logits")
        let meanSquaredError = { (predictions: Tensor) in (predictions.squeezed(-1) - targets).squared().mean() }
        let loss = meanSquaredError(predictions)
        try fixture.expectValues(loss.reshaped([1]), "out.loss")
        loss.backward()
        try fixture.expectGradients(of: model)
        try fixture.expectTrainingTrajectory(of: model) { meanSquaredError(forward()) }
    }
}
