import Foundation
import KibanIO
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// A LoRA adapter trained and saved by PEFT (`Tests/Fixtures/make_peft_fixture.py`) loads into
/// Kiban's ESM and gives PEFT's logits.
@Suite("PEFT-trained adapter in Kiban")
struct PEFTFixtureTests {
    @Test func peftAdapterGivesPeftLogits() throws {
        let base = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try base.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: base.stateDict())
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/peft_esm")
        let configuration = try PEFTAdapterFolder.load(into: model, from: folder)
        #expect(configuration.rank == 4 && configuration.scaling == 2)
        model.eval()
        let reference = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("logits.safetensors"))
        let mask = try reference.indices("input.attention_mask")
        let logits = model(try reference.indices("input.input_ids"), attentionMask: Tensor(shape: mask.shape, values: mask.values.map(Float.init)))
        let (shape, values) = try reference.doubles("logits")
        let mismatches = ReferenceComparison.valueMismatches(logits, shape: shape, reference: values)
        #expect(mismatches.isEmpty, "\(mismatches.count) logits off, first \(mismatches.first ?? "")")
        let worst = zip(logits.toArray(), values).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "max |Δ| \(worst)")
    }
}
