import KibanNN
import KibanTensor
import Testing

/// Several named adapters on one model: switching, deleting, per-layer rank and α patterns, and
/// weighted combinations (PEFT's `set_adapter`, `delete_adapter`, `rank_pattern`, `add_weighted_adapter`).
@Suite("LoRA adapter sets")
struct LoRAAdapterSetTests {
    typealias Pair = LoRATests.Pair

    /// Attaches `name` to the layers matching `targets` and gives its B random values.
    func attach(_ name: String, to model: Pair, rank: Int, alpha: Float, targets: String, seed: UInt64) throws {
        try LoRA.apply(to: model, configuration: LoRAConfiguration(rank: rank, alpha: alpha, targetModules: [targets]), name: name, generator: RandomGenerator(seed: seed))
        let generator = RandomGenerator(seed: seed + 100)
        for linear in [model.first, model.second] {
            guard let adapter = linear.adapters.first(where: { $0.name == name })?.adapter else { continue }
            withNoGrad { adapter.up.weight.value.assign(Tensor.randn(adapter.up.weight.shape, scale: 0.5, generator: generator)) }
        }
    }

    /// scaling·B·A of the adapter `name` on `linear`, row-major (D, C).
    func delta(_ linear: Linear, _ name: String) -> [Float] {
        let adapter = linear.adapters.first { $0.name == name }!.adapter
        return withNoGrad { adapter.up.weight.value.matmul(adapter.down.weight.value) * adapter.scaling }.toArray()
    }

    @Test func switchingAndDeletingAdapters() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        try attach("b", to: model, rank: 3, alpha: 3, targets: "^(first|second)$", seed: 3)
        let onlyA = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: onlyA, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 4))
        let plainOutput = Pair(generator: RandomGenerator(seed: 1))(x).toArray()
        #expect(model.adapterNames == ["a", "b"])
        #expect(model.first.activeAdapter == "b" && model.second.activeAdapter == "b")
        let withB = model(x).toArray()

        try model.setActiveAdapter("a")
        #expect(model.first.activeAdapter == "a" && model.second.activeAdapter == nil)
        #expect(model(x).toArray() == onlyA(x).toArray())
        try model.setActiveAdapter(nil)
        #expect(model(x).toArray() == plainOutput)
        #expect(throws: LoRA.AdapterError.self) { try model.setActiveAdapter("missing") }
        try model.setActiveAdapter("b")
        #expect(model(x).toArray() == withB)

        model.first.merge()
        #expect(throws: LoRA.AdapterError.self) { try model.deleteAdapter("b") }
        try model.setActiveAdapter("a")
        #expect(!model.first.isMerged, "switching unmerges first")
        try model.setActiveAdapter("b")
        try model.deleteAdapter("b")
        #expect(model.adapterNames == ["a"] && model.first.activeAdapter == "a" && model.second.adapters.isEmpty)
        // The merge/unmerge round trip above leaves W within float32 rounding of its old value.
        #expect(zip(model(x).toArray(), onlyA(x).toArray()).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(throws: LoRA.AdapterError.self) { try model.deleteAdapter("b") }
        #expect(throws: LoRA.AdapterError.self) { try attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 5) }
    }

    /// Keys match a whole path or a dotted suffix of it (`^(.*\.)?(key)$`), never a bare substring.
    @Test func rankAndAlphaPatternsPickPerLayerValues() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let configuration = LoRAConfiguration(
            rank: 2, alpha: 4, targetModules: ["^(first|second)$"], rankPattern: ["second": 3, "irs": 5], alphaPattern: ["sec.nd": 9])
        try LoRA.apply(to: model, configuration: configuration, generator: RandomGenerator(seed: 2))
        let (first, second) = (model.first.adapters[0].adapter, model.second.adapters[0].adapter)
        #expect(first.down.weight.shape == [2, 6] && first.scaling == 2)
        #expect(second.down.weight.shape == [3, 5] && second.up.weight.shape == [3, 3] && second.scaling == 3)
        #expect(second.configuration.rank == 3 && second.configuration.alpha == 9)
    }

    /// cat: B·A of the result equals Σ wᵢ·ΔWᵢ exactly, at rank 2 + 3, with scaling 1.
    @Test func catCombinationIsTheWeightedSumOfTheUpdates() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        try attach("b", to: model, rank: 3, alpha: 1.5, targets: "^first$", seed: 3)
        let configuration = try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "mix", combination: .cat)
        #expect(configuration.rank == 5 && configuration.alpha == 5 && configuration.scaling == 1)
        #expect(model.first.activeAdapter == "b")
        let expected = zip(delta(model.first, "a"), delta(model.first, "b")).map { 0.5 * $0 - 2 * $1 }
        #expect(zip(delta(model.first, "mix"), expected).allSatisfy { abs($0 - $1) <= 1e-5 })
        #expect(model.trainableParameters().allSatisfy { !$0.name.contains("mix") })
        #expect(throws: LoRA.AdapterError.self) {
            try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [1, 1], name: "other", combination: .linear)
        }
        #expect(throws: LoRA.AdapterError.self) {
            try LoRA.addWeightedAdapter(to: model, adapters: ["a"], weights: [1], name: "mix", combination: .linear)
        }
    }

    /// linear: A = Σ sign(wᵢsᵢ)√|wᵢsᵢ|·Aᵢ and B = Σ √|wᵢsᵢ|·Bᵢ, so B·A has cross terms; written out here.
    @Test func linearCombinationFollowsPEFTsSquareRootRule() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        try attach("b", to: model, rank: 2, alpha: 1, targets: "^first$", seed: 3)
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: "mix", combination: .linear)
        let parts = ["a", "b"].map { name in model.first.adapters.first { $0.name == name }!.adapter }
        let (rootA, rootB) = ((0.7 * 2.0).squareRoot(), (0.4 * 0.5).squareRoot())  // w·s = 1.4 and −0.2
        let (a0, a1) = (parts[0].down.weight.value.toArray(), parts[1].down.weight.value.toArray())
        let (b0, b1) = (parts[0].up.weight.value.toArray(), parts[1].up.weight.value.toArray())
        let down = zip(a0, a1).map { rootA * Double($0) - rootB * Double($1) }
        let up = zip(b0, b1).map { rootA * Double($0) + rootB * Double($1) }
        let mix = model.first.adapters.first { $0.name == "mix" }!.adapter
        #expect(zip(mix.down.weight.value.toArray(), down).allSatisfy { abs(Double($0) - $1) <= 1e-6 })
        #expect(zip(mix.up.weight.value.toArray(), up).allSatisfy { abs(Double($0) - $1) <= 1e-6 })
        #expect(mix.scaling == 1)
    }
}
