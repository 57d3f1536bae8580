import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// `LoRA.addWeightedAdapter` against PEFT's `add_weighted_adapter` (`Tests/Fixtures/peft_weighted`,
/// made by `make_peft_fixture.py`): the same A and B for every layer (for `svd`, whose factors are
/// unique only up to signs, the same B·A), the same rank and α, and the same logits with the
/// combined adapter active. DARE replays the masks PEFT drew.
@Suite("add_weighted_adapter as PEFT")
struct PEFTWeightedAdapterTests {
    static let folder = PEFTFixtureTests.fixtures.appendingPathComponent("peft_weighted")

    /// PEFT's DARE masks for one combination (`dare_masks.safetensors`), counting the requests.
    final class FixtureMasks: DAREMaskSource {
        let file: SafeTensorsFile, combination: String
        private(set) var served = 0

        init(_ combination: String) throws {
            file = try SafeTensorsFile(contentsOf: PEFTWeightedAdapterTests.folder.appendingPathComponent("dare_masks.safetensors"))
            self.combination = combination
        }

        var stored: Int { file.entries.keys.filter { $0.hasPrefix(combination + ".") }.count }

        func keepMask(for request: DAREMaskRequest) throws -> [Float] {
            let (shape, values) = try file.doubles("\(combination).\(request.layer).\(request.factor.rawValue).\(request.adapter)")
            #expect(shape == request.shape && request.density == 0.6)
            served += 1
            return values.map(Float.init)
        }
    }

    /// Adds `name` as PEFT did and compares it with PEFT's folder and logits.
    func expectPeftCombination(
        _ name: String, adapters: [String], weights: [Float], combination: LoRA.Combination, density: Double? = nil,
        majoritySign: LoRA.MajoritySign = .total, svdRank: Int? = nil, svdClamp: Double? = nil,
        masks: any DAREMaskSource = RandomGenerator(seed: 0)
    ) throws {
        let base = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try base.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: base.stateDict())
        for adapter in ["a", "b", "c"] {
            try PEFTAdapterFolder.load(into: model, from: Self.folder.appendingPathComponent(adapter), name: adapter)
        }
        let configuration = try LoRA.addWeightedAdapter(
            to: model, adapters: adapters, weights: weights, name: name, combination: combination, density: density,
            majoritySign: majoritySign, svdRank: svdRank, svdClamp: svdClamp, masks: masks)
        let query = model.esm.layers[0].selfAttention.query
        #expect(query.activeAdapter == "c", "adding an adapter leaves the active one")

        let peftFolder = Self.folder.appendingPathComponent(name)
        let peftConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: peftFolder.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(configuration.rank == peftConfig["r"] as? Int && Double(configuration.alpha) == (peftConfig["lora_alpha"] as? NSNumber)?.doubleValue)
        let file = try SafeTensorsFile(contentsOf: peftFolder.appendingPathComponent("adapter_model.safetensors"))
        #expect(file.entries.count == 8)
        let worstWeight = combination == .svd ? try expectProducts(of: model, name: name, as: file) : try expectFactors(of: model, name: name, as: file)
        #expect(model.trainableParameters().allSatisfy { !$0.name.contains(".\(name).") }, "the combined adapter is frozen")

        try model.setActiveAdapter(name)
        model.eval()
        let reference = try SafeTensorsFile(contentsOf: Self.folder.appendingPathComponent("logits.safetensors"))
        let worstLogit = try PEFTFixtureTests.expectLogits(of: model, on: reference, key: "logits.\(name)")
        print("add_weighted_adapter \(name): \(combination == .svd ? "B·A" : "A/B") max |Δ| \(worstWeight), logits max |Δ| \(worstLogit)")
    }

    /// Every A and B of `name` against PEFT's file; returns the largest |Δ|.
    func expectFactors(of model: Module, name: String, as file: SafeTensorsFile) throws -> Double {
        let state = model.stateDict()
        var worst = 0.0
        for key in file.entries.keys.sorted() {
            let kiban = String(key.dropFirst("base_model.model.".count)).replacingOccurrences(of: ".weight", with: ".\(name).weight")
            guard let actual = state[kiban] else {
                Issue.record("\(name): Kiban has no \(kiban)")
                continue
            }
            let (shape, reference) = try file.doubles(key)
            let mismatches = ReferenceComparison.valueMismatches(actual, shape: shape, reference: reference)
            #expect(mismatches.isEmpty, "\(kiban): \(mismatches.count) values off, first \(mismatches.first ?? "")")
            worst = max(worst, zip(actual.toArray(), reference).map { abs(Double($0) - $1) }.max() ?? 0)
        }
        return worst
    }

    /// B·A of `name` on every layer against PEFT's B·A; returns the largest |Δ|.
    func expectProducts(of model: Module, name: String, as file: SafeTensorsFile) throws -> Double {
        var worst = 0.0
        for (path, module) in model.namedModules() {
            guard let adapter = (module as? Linear)?.adapters.first(where: { $0.name == name })?.adapter else { continue }
            let (downShape, down) = try file.doubles("base_model.model.\(path).lora_A.weight")
            let (upShape, up) = try file.doubles("base_model.model.\(path).lora_B.weight")
            let (rows, rank, columns) = (upShape[0], upShape[1], downShape[1])
            let reference = (0..<(rows * columns)).map { index in
                (0..<rank).map { up[(index / columns) * rank + $0] * down[$0 * columns + index % columns] }.reduce(0, +)
            }
            let product = withNoGrad { adapter.up.weight.value.matmul(adapter.down.weight.value) }
            let mismatches = ReferenceComparison.valueMismatches(product, shape: [rows, columns], reference: reference)
            #expect(mismatches.isEmpty, "\(path): B·A has \(mismatches.count) values off, first \(mismatches.first ?? "")")
            worst = max(worst, zip(product.toArray(), reference).map { abs(Double($0) - $1) }.max() ?? 0)
        }
        return worst
    }

    /// linear([a, b], [0.7, −0.4]): b's weight times scaling is negative, so its A enters with a minus sign.
    @Test func linearCombinationMatchesPeft() throws {
        try expectPeftCombination("linear", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .linear)
    }

    /// cat([a, c], [0.5, 1.5]): rank 4 + 2; the value layers, which c does not adapt, are zero-padded.
    @Test func catCombinationMatchesPeft() throws {
        try expectPeftCombination("cat", adapters: ["a", "c"], weights: [0.5, 1.5], combination: .cat)
    }

    /// svd([a, c], [0.5, 1.5]): rank max(4, 2); on the query layers the rank-6 sum is truncated to 4.
    @Test func svdCombinationMatchesPeft() throws {
        try expectPeftCombination("svd", adapters: ["a", "c"], weights: [0.5, 1.5], combination: .svd)
    }

    /// svd with svd_rank 3 and svd_clamp 0.9 of all three adapters.
    @Test func clampedSvdCombinationMatchesPeft() throws {
        try expectPeftCombination(
            "svd_clamped", adapters: ["a", "b", "c"], weights: [0.7, -0.4, 1.5], combination: .svd, svdRank: 3, svdClamp: 0.9)
    }

    /// ties([a, b], density 0.5): magnitude pruning, sign election by total, disjoint mean.
    @Test func tiesCombinationMatchesPeft() throws {
        try expectPeftCombination("ties", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .ties, density: 0.5)
    }

    @Test func magnitudePruneCombinationMatchesPeft() throws {
        try expectPeftCombination(
            "magnitude_prune", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .magnitudePrune, density: 0.5)
    }

    /// dare_linear([a, b], density 0.6) with PEFT's masks: one per A and B of each adapter and layer.
    @Test func dareLinearCombinationMatchesPeft() throws {
        let masks = try FixtureMasks("dare_linear")
        try expectPeftCombination(
            "dare_linear", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .dareLinear, density: 0.6, masks: masks)
        #expect(masks.served == masks.stored && masks.stored == 16)
    }

    /// dare_ties([a, b], density 0.6) with sign election by frequency, with PEFT's masks.
    @Test func dareTiesCombinationMatchesPeft() throws {
        let masks = try FixtureMasks("dare_ties")
        try expectPeftCombination(
            "dare_ties", adapters: ["a", "b"], weights: [0.7, -0.4], combination: .dareTies, density: 0.6, majoritySign: .frequency,
            masks: masks)
        #expect(masks.served == masks.stored && masks.stored == 16)
    }
}
