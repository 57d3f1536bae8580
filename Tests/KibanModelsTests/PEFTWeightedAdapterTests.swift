import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// `LoRA.addWeightedAdapter` against PEFT's `add_weighted_adapter` (`Tests/Fixtures/peft_weighted`,
/// made by `make_peft_fixture.py`): the same A and B for every layer, the same rank and α, and
/// the same logits with the combined adapter active.
@Suite("add_weighted_adapter as PEFT")
struct PEFTWeightedAdapterTests {
    static let folder = PEFTFixtureTests.fixtures.appendingPathComponent("peft_weighted")

    func expectPeftCombination(_ name: String, adapters: [String], weights: [Float], combination: LoRA.Combination) throws {
        let base = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try base.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: base.stateDict())
        for adapter in ["a", "b", "c"] {
            try PEFTAdapterFolder.load(into: model, from: Self.folder.appendingPathComponent(adapter), name: adapter)
        }
        let configuration = try LoRA.addWeightedAdapter(to: model, adapters: adapters, weights: weights, name: name, combination: combination)
        let query = model.esm.layers[0].selfAttention.query
        #expect(query.activeAdapter == "c", "adding an adapter leaves the active one")

        let peftFolder = Self.folder.appendingPathComponent(name)
        let peftConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: peftFolder.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(configuration.rank == peftConfig["r"] as? Int && Double(configuration.alpha) == (peftConfig["lora_alpha"] as? NSNumber)?.doubleValue)
        let file = try SafeTensorsFile(contentsOf: peftFolder.appendingPathComponent("adapter_model.safetensors"))
        let state = model.stateDict()
        var worstWeight = 0.0
        for key in file.entries.keys.sorted() {
            let kiban = String(key.dropFirst("base_model.model.".count)).replacingOccurrences(of: ".weight", with: ".\(name).weight")
            guard let actual = state[kiban] else {
                Issue.record("\(name): Kiban has no \(kiban)")
                continue
            }
            let (shape, reference) = try file.doubles(key)
            let mismatches = ReferenceComparison.valueMismatches(actual, shape: shape, reference: reference)
            #expect(mismatches.isEmpty, "\(kiban): \(mismatches.count) values off, first \(mismatches.first ?? "")")
            worstWeight = max(worstWeight, zip(actual.toArray(), reference).map { abs(Double($0) - $1) }.max() ?? 0)
        }
        #expect(file.entries.count == 8)
        #expect(model.trainableParameters().allSatisfy { !$0.name.contains(".\(name).") }, "the combined adapter is frozen")

        try model.setActiveAdapter(name)
        model.eval()
        let reference = try SafeTensorsFile(contentsOf: Self.folder.appendingPathComponent("logits.safetensors"))
        let worstLogit = try PEFTFixtureTests.expectLogits(of: model, on: reference, key: "logits.\(name)")
        print("add_weighted_adapter \(name): A/B max |Δ| \(worstWeight), logits max |Δ| \(worstLogit)")
    }

    /// linear([a, b], [0.7, −0.4]): b's weight times scaling is negative, so its A enters with a minus sign.
    @Test func linearCombinationMatchesPeft() throws {
        try expectPeftCombination("linear", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .linear)
    }

    /// cat([a, c], [0.5, 1.5]): rank 4 + 2; the value layers, which c does not adapt, are zero-padded.
    @Test func catCombinationMatchesPeft() throws {
        try expectPeftCombination("cat", adapters: ["a", "c"], weights: [0.5, 1.5], combination: .cat)
    }
}
