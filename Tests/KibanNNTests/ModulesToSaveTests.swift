import KibanNN
import KibanOptim
import KibanTensor
import Testing

/// `modules_to_save` kept once per adapter, as PEFT's `ModulesToSaveWrapper`: each adapter trains
/// its own copy of the module, `setActiveAdapter` picks the copy, the original stays as the base.
@Suite("modules_to_save per adapter")
struct ModulesToSaveTests {
    typealias Pair = LoRATests.Pair

    /// `first` adapted by LoRA as `name`, `second` saved per adapter; the new copy of `second` is
    /// given random values so that each adapter's head differs.
    func attach(_ name: String, to model: Pair, seed: UInt64) throws {
        let configuration = LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"], modulesToSave: ["^second$"])
        try LoRA.apply(to: model, configuration: configuration, name: name, generator: RandomGenerator(seed: seed))
        withNoGrad { model.second.weight.value.addInPlace(Tensor.randn(model.second.weight.shape, scale: 0.5, generator: RandomGenerator(seed: seed + 50))) }
    }

    @Test func eachAdapterComputesWithItsOwnCopy() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 4))
        let original = model.second.weight.value.toArray()
        let plain = model(x).toArray()
        try attach("a", to: model, seed: 2)
        let withA = model(x).toArray()
        #expect(withA != plain)
        let copyOfA = model.second.weight.value.toArray()
        try attach("b", to: model, seed: 3)
        #expect(model.second.adapterCopies?.activeAdapter == "b")
        #expect(model.second.adapterCopies?.parameters(of: "b")?.count == 2)
        let withB = model(x).toArray()
        #expect(withB != withA)
        #expect(
            Set(model.stateDict().keys.filter { $0.hasPrefix("second.") }) == [
                "second.original_module.weight", "second.original_module.bias", "second.modules_to_save.a.weight",
                "second.modules_to_save.a.bias", "second.modules_to_save.b.weight", "second.modules_to_save.b.bias",
            ])
        #expect(model.stateDict()["second.original_module.weight"]?.toArray() == original)
        #expect(model.stateDict()["second.modules_to_save.a.weight"]?.toArray() == copyOfA)
        #expect(
            Set(model.trainableParameters().map(\.name)) == [
                "first.lora_A.b.weight", "first.lora_B.b.weight", "second.modules_to_save.b.weight", "second.modules_to_save.b.bias",
            ])

        try model.setActiveAdapter("a")
        #expect(model(x).toArray() == withA, "switching back restores a's head")
        #expect(model.second.weight.value.toArray() == copyOfA)
        try model.setActiveAdapter(nil)
        #expect(model(x).toArray() == plain, "no adapter: the original module")
        try model.setActiveAdapter("b")
        #expect(model(x).toArray() == withB)
    }

    /// A new adapter's copy starts from the original, not from the active adapter's copy.
    @Test func aNewCopyStartsFromTheOriginal() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let original = model.second.weight.value.toArray()
        try attach("a", to: model, seed: 2)
        try LoRA.apply(
            to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"], modulesToSave: ["^second$"]),
            name: "b", generator: RandomGenerator(seed: 3))
        #expect(model.second.weight.value.toArray() == original)
    }

    @Test func deletingAnAdapterDeletesItsCopy() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 4))
        let plain = model(x).toArray()
        try attach("a", to: model, seed: 2)
        try attach("b", to: model, seed: 3)
        try model.setActiveAdapter("a")
        let withA = model(x).toArray()
        try model.deleteAdapter("b")
        #expect(model.second.adapterCopies?.adapterNames == ["a"])
        #expect(model(x).toArray() == withA)
        #expect(!model.stateDict().keys.contains { $0.contains(".b.") })

        try model.deleteAdapter("a")
        #expect(model.second.adapterCopies == nil)
        #expect(Set(model.stateDict().keys) == ["first.weight", "first.bias", "second.weight", "second.bias"])
        #expect(model(x).toArray() == plain, "the last copy gone, the module holds its original values")
        #expect(throws: LoRA.AdapterError.self) { try model.deleteAdapter("a") }
    }

    /// PEFT's rule: a module that held the deleted adapter's copy follows the first adapted
    /// layer's new active adapter, or its original when that adapter has no copy.
    @Test func afterDeletingTheActiveAdapterTheCopyFollowsTheLayers() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: model, seed: 2)
        try LoRA.apply(to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"]), name: "plain", generator: RandomGenerator(seed: 5))
        try attach("b", to: model, seed: 3)
        try model.deleteAdapter("b")
        #expect(model.first.activeAdapter == "a" && model.second.adapterCopies?.activeAdapter == "a")
        try model.setActiveAdapter("plain")
        #expect(model.second.adapterCopies?.activeAdapter == nil)
        try model.setActiveAdapter("a")
        try model.deleteAdapter("a")
        #expect(model.first.activeAdapter == "plain" && model.second.adapterCopies == nil)
    }

    /// Gradients and optimizer updates reach the active adapter's copy only.
    @Test func trainingUpdatesTheActiveCopy() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try attach("a", to: model, seed: 2)
        try attach("b", to: model, seed: 3)
        let copyOfB = try #require(model.second.adapterCopies?.parameters(of: "b"))
        let before = model.stateDict().mapValues { $0.toArray() }
        let buffer = ParameterBuffer(module: model)
        let optimizer = AdamW(buffer: buffer, learningRate: 1e-2)
        buffer.zeroGradients()
        model(Tensor.randn([4, 6], generator: RandomGenerator(seed: 4))).squared().mean().backward()
        #expect(copyOfB.allSatisfy { $0.parameter.value.grad?.toArray().contains { $0 != 0 } == true })
        optimizer.update()
        let after = model.stateDict().mapValues { $0.toArray() }
        let changed = Set(after.keys.filter { after[$0] != before[$0] })
        #expect(changed.isSuperset(of: ["first.lora_B.b.weight", "second.modules_to_save.b.weight", "second.modules_to_save.b.bias"]))
        #expect(changed.isSubset(of: Set(model.trainableParameters().map(\.name))), "\(changed)")
        #expect(model.second.weight.value.toArray() == after["second.modules_to_save.b.weight"])
    }

    @Test func modulesThatCannotHaveCopiesAreRefused() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        #expect(throws: LoRA.AdapterError.self) {
            try LoRA.apply(
                to: model, configuration: LoRAConfiguration(targetModules: ["^first$"], modulesToSave: ["^first$"]), generator: RandomGenerator(seed: 2))
        }
        let tied = TiedPair(generator: RandomGenerator(seed: 1))
        #expect(throws: LoRA.AdapterError.self) {
            try LoRA.apply(
                to: tied, configuration: LoRAConfiguration(targetModules: ["^first$"], modulesToSave: ["^second$"]), generator: RandomGenerator(seed: 2))
        }
        #expect(tied.adapterNames.isEmpty && tied.second.adapterCopies == nil, "a refused apply changes nothing")
    }

    /// Only one adapter of a combination may keep a copy of a module; the result gets a frozen
    /// copy of the original where the first adapter has one, as in PEFT.
    @Test func weightedAdaptersAndCopies() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let original = model.second.weight.value.toArray()
        try attach("a", to: model, seed: 2)
        try LoRA.apply(to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"]), name: "plain", generator: RandomGenerator(seed: 5))
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "plain"], weights: [1, 1], name: "mix", combination: .cat)
        let mix = try #require(model.second.adapterCopies?.parameters(of: "mix"))
        #expect(mix[0].parameter.value.toArray() == original && mix.allSatisfy { $0.parameter.isFrozen })
        #expect(model.second.adapterCopies?.activeAdapter == "a")
        try attach("b", to: model, seed: 3)
        #expect(throws: LoRA.AdapterError.self) {
            try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [1, 1], name: "both", combination: .cat)
        }
    }

    /// `second` lists `first`'s weight as its own (a tied weight).
    final class TiedPair: Module {
        let first: Linear, second: TiedWeight
        init(generator: RandomGenerator) {
            first = Linear(4, 4, initialization: .normal(std: 0.5), generator: generator)
            second = TiedWeight(first.weight)
        }
        override var children: [(key: String, module: Module)] { [("first", first), ("second", second)] }
    }

    final class TiedWeight: Module {
        let weight: Parameter
        init(_ weight: Parameter) { self.weight = weight }
        override var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }
    }
}
