import KibanNN
import KibanOptim
import KibanTensor
import KibanTestSupport
import Testing

/// LoRA on Linear layers: gradients, merge/unmerge, frozen base weights, PEFT-style names.
@Suite("LoRA")
struct LoRATests {
    /// Two linear layers; LoRA targets the first.
    final class Pair: Module {
        let first: Linear, second: Linear
        init(generator: RandomGenerator) {
            first = Linear(6, 5, initialization: .normal(std: 0.5), generator: generator)
            second = Linear(5, 3, initialization: .normal(std: 0.5), generator: generator)
        }
        override var children: [(key: String, module: Module)] { [("first", first), ("second", second)] }
        func callAsFunction(_ x: Tensor) -> Tensor { second(first(x).gelu()) }
    }

    func adapted(seed: UInt64 = 1) throws -> Pair {
        let model = Pair(generator: RandomGenerator(seed: seed))
        try LoRA.apply(to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"]), generator: RandomGenerator(seed: 2))
        return model
    }

    @Test func adapterStartsAsIdentityAndNamesItsWeightsLikePEFT() throws {
        let plain = Pair(generator: RandomGenerator(seed: 1))
        let model = try adapted()
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 3))
        #expect(model(x).toArray() == plain(x).toArray())
        #expect(Set(model.trainableParameters().map(\.name)) == ["first.lora_A.default.weight", "first.lora_B.default.weight"])
        #expect(model.first.adapters.first?.adapter.scaling == 2)
        #expect(throws: LoRA.NoMatch.self) {
            try LoRA.apply(to: Pair(generator: RandomGenerator(seed: 1)), configuration: LoRAConfiguration(targetModules: ["nothing"]), generator: RandomGenerator(seed: 2))
        }
    }

    @Test func gradientsThroughALoRALinearMatchFiniteDifferences() throws {
        let model = try adapted()
        withNoGrad { model.first.adapters[0].adapter.up.weight.value.assign(Tensor.randn([5, 2], scale: 0.3, generator: RandomGenerator(seed: 4))) }
        let check = GradientCheck.Case("LoRA-wrapped linear (4, 6)", shapes: [[4, 6]]) { model($0[0]) }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    @Test func mergeThenUnmergeRestoresTheWeight() throws {
        let model = try adapted()
        withNoGrad { model.first.adapters[0].adapter.up.weight.value.assign(Tensor.randn([5, 2], generator: RandomGenerator(seed: 5))) }
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 6))
        let original = model.first.weight.value.toArray(), unmergedOutput = model(x).toArray()
        model.first.merge()
        let mergedOutput = model(x).toArray()
        #expect(zip(mergedOutput, unmergedOutput).allSatisfy { abs($0 - $1) <= 1e-5 })
        model.first.unmerge()
        let scale = original.map(abs).max()!
        #expect(zip(model.first.weight.value.toArray(), original).allSatisfy { abs($0 - $1) <= 1e-6 * scale })
    }

    @Test func trainingLeavesBaseWeightsBitIdentical() throws {
        let model = try adapted()
        let base = model.stateDict().filter { !$0.key.contains("lora") }.mapValues { $0.toArray().map(\.bitPattern) }
        let optimizer = AdamW(buffer: ParameterBuffer(module: model), learningRate: 1e-2)
        let x = Tensor.randn([8, 6], generator: RandomGenerator(seed: 7))
        var losses: [Float] = []
        for _ in 0..<20 {
            optimizer.zeroGradients()
            let loss = model(x).crossEntropy(targets: IndexTensor([0, 1, 2, 0, 1, 2, 0, 1]))
            loss.backward()
            optimizer.update()
            losses.append(loss.item())
        }
        #expect(losses.last! < losses.first!)
        for (name, values) in base { #expect(model.stateDict()[name]!.toArray().map(\.bitPattern) == values, "\(name) changed") }
    }
}
