import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

// Dim legend: N rows, C = 6 input features, D = 5 output features, r = 2.

/// DoRA on a Linear (PEFT's `use_dora=True`): the magnitude's initial value and name, the forward
/// m ⊙ (W + ΔW)x / ‖W + ΔW‖ + b, gradients with the weight norm held constant as PEFT holds it,
/// merge/unmerge, and one dropout mask for both terms in training.
@Suite("DoRA")
struct DoRATests {
    typealias Pair = LoRATests.Pair

    /// Pair with DoRA (r 2, α 4, so scaling 2) on `first`; B random and m = ‖W‖ ⊙ (1 + 0.3·noise),
    /// so the adapter changes the layer.
    func adapted(dropout: Float = 0) throws -> (Pair, LoRAAdapter) {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try LoRA.apply(
            to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, dropout: dropout, targetModules: ["^first$"], useDoRA: true),
            generator: RandomGenerator(seed: 2))
        let adapter = model.first.adapters[0].adapter
        withNoGrad {
            adapter.up.weight.value.assign(Tensor.randn([5, 2], scale: 0.4, generator: RandomGenerator(seed: 4)))
            let noise = Tensor.randn([5], scale: 0.3, generator: RandomGenerator(seed: 5))
            adapter.magnitude!.weight.value.assign(adapter.magnitude!.weight.value * (noise + 1))
        }
        return (model, adapter)
    }

    /// Row-major (D, C) values of W + scaling·B·A in Double.
    func combinedWeight(_ layer: Linear, _ adapter: LoRAAdapter) -> [Double] {
        let (w, a, b) = (layer.weight.value.toArray(), adapter.down.weight.value.toArray(), adapter.up.weight.value.toArray())
        let (d, c, r) = (layer.weight.shape[0], layer.weight.shape[1], adapter.down.weight.shape[0])
        return (0..<(d * c)).map { index in
            let (row, column) = (index / c, index % c)
            return Double(w[index]) + Double(adapter.scaling) * (0..<r).map { Double(b[row * r + $0]) * Double(a[$0 * c + column]) }.reduce(0, +)
        }
    }

    func rowNorms(_ values: [Double], columns: Int) -> [Double] {
        stride(from: 0, to: values.count, by: columns).map { values[$0..<($0 + columns)].map { $0 * $0 }.reduce(0, +).squareRoot() }
    }

    @Test func magnitudeStartsAtRowNormsOfTheWeightAndNamesLikePEFT() throws {
        let plain = Pair(generator: RandomGenerator(seed: 1))
        let model = Pair(generator: RandomGenerator(seed: 1))
        try LoRA.apply(to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"], useDoRA: true), generator: RandomGenerator(seed: 2))
        let magnitude = model.first.adapters[0].adapter.magnitude!.weight.value.toArray()
        let norms = rowNorms(model.first.weight.value.toArray().map(Double.init), columns: 6)
        #expect(zip(magnitude, norms).allSatisfy { abs(Double($0) - $1) <= 1e-6 * $1 })
        #expect(Set(model.trainableParameters().map(\.name)) == [
            "first.lora_A.default.weight", "first.lora_B.default.weight", "first.lora_magnitude_vector.default.weight",
        ])
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 3))
        #expect(zip(model(x).toArray(), plain(x).toArray()).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    @Test func forwardIsMagnitudeTimesNormalisedWeightPlusBias() throws {
        let (model, adapter) = try adapted()
        withNoGrad { model.first.bias!.value.assign(Tensor.randn([5], generator: RandomGenerator(seed: 6))) }
        let x = Tensor.randn([3, 6], generator: RandomGenerator(seed: 7))
        let output = model.first(x).toArray()
        let combined = combinedWeight(model.first, adapter), norms = rowNorms(combined, columns: 6)
        let (m, bias, input) = (adapter.magnitude!.weight.value.toArray(), model.first.bias!.value.toArray(), x.toArray())
        for row in 0..<3 {
            for feature in 0..<5 {
                let dot = (0..<6).map { combined[feature * 6 + $0] * Double(input[row * 6 + $0]) }.reduce(0, +)
                let expected = Double(m[feature]) / norms[feature] * dot + Double(bias[feature])
                #expect(abs(Double(output[row * 5 + feature]) - expected) <= 1e-5 * max(1, abs(expected)), "row \(row) feature \(feature)")
            }
        }
    }

    /// The weight norm depends on neither x nor m, so finite differences agree with backward there.
    @Test func gradientsWithRespectToInputAndMagnitudeMatchFiniteDifferences() throws {
        let (model, adapter) = try adapted()
        let magnitude = adapter.magnitude!.weight
        let start = magnitude.value.toArray()
        let check = GradientCheck.Case(
            "DoRA-wrapped linear (4, 6), inputs x and m",
            inputs: { generator in [Tensor.randn([4, 6], generator: generator), Tensor(shape: [5], values: start)] }
        ) { inputs in
            magnitude.value = inputs[1]
            return model(inputs[0])
        }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    /// Backward's gradients for A and B equal central differences of the layer with its weight norm
    /// frozen at the current value (PEFT's detached norm); differences of the layer that recomputes the
    /// norm differ, so the test tells the two apart.
    @Test func gradientsWithRespectToAAndBHoldTheWeightNormConstant() throws {
        let (model, adapter) = try adapted()
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 8))
        let upstream = Tensor.randn([4, 5], generator: RandomGenerator(seed: 9))
        model.first(x).backward(gradient: upstream)
        let frozenNorms = rowNorms(combinedWeight(model.first, adapter), columns: 6)
        let (input, g, m) = (x.toArray().map(Double.init), upstream.toArray().map(Double.init), adapter.magnitude!.weight.value.toArray())
        let bias = model.first.bias!.value.toArray()
        /// Σ g ⊙ (m / n ⊙ (W + sBA)x + b) in Double, with n frozen or recomputed.
        func objective(frozen: Bool) -> Double {
            let combined = combinedWeight(model.first, adapter)
            let norms = frozen ? frozenNorms : rowNorms(combined, columns: 6)
            var total = 0.0
            for row in 0..<4 {
                for feature in 0..<5 {
                    let dot = (0..<6).map { combined[feature * 6 + $0] * input[row * 6 + $0] }.reduce(0, +)
                    total += g[row * 5 + feature] * (Double(m[feature]) / norms[feature] * dot + Double(bias[feature]))
                }
            }
            return total
        }
        var worstFrozen = 0.0, worstRecomputed = 0.0
        for parameter in [adapter.down.weight, adapter.up.weight] {
            let analytic = parameter.value.grad!.toArray()
            for element in 0..<parameter.value.count {
                let original = parameter.value.pointer[element]
                var differences: [Bool: Double] = [:]
                for frozen in [true, false] {
                    parameter.value.pointer[element] = original + 1e-2
                    let plus = objective(frozen: frozen), upper = parameter.value.pointer[element]
                    parameter.value.pointer[element] = original - 1e-2
                    let minus = objective(frozen: frozen), lower = parameter.value.pointer[element]
                    parameter.value.pointer[element] = original
                    differences[frozen] = (plus - minus) / (Double(upper) - Double(lower))
                }
                worstFrozen = max(worstFrozen, abs(Double(analytic[element]) - differences[true]!))
                worstRecomputed = max(worstRecomputed, abs(Double(analytic[element]) - differences[false]!))
            }
        }
        #expect(worstFrozen <= 1e-3, "frozen-norm differences: worst |Δ| \(worstFrozen)")
        #expect(worstRecomputed > 1e-2, "recomputed-norm differences should differ: worst |Δ| \(worstRecomputed)")
    }

    @Test func mergeThenUnmergeRestoresTheWeight() throws {
        let (model, _) = try adapted()
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 10))
        let original = model.first.weight.value.toArray(), unmergedOutput = model(x).toArray()
        model.first.merge()
        #expect(model.first.isMerged)
        #expect(zip(model(x).toArray(), unmergedOutput).allSatisfy { abs($0 - $1) <= 1e-5 })
        model.first.unmerge()
        let scale = original.map(abs).max()!
        #expect(zip(model.first.weight.value.toArray(), original).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
    }

    /// With dropout in training, PEFT recomputes x′Wᵀ from the dropped-out input x′: each row's output
    /// is b + W x + (s − 1) ⊙ W x′ + s ⊙ scaling·B·A x′ for one mask (x′ = 2x or 0 per element at p = ½).
    @Test func dropoutInTrainingUsesOneMaskForBothTerms() throws {
        let (model, adapter) = try adapted(dropout: 0.5)
        model.train()
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 11))
        let output = withNoGrad { model.first(x) }.toArray()
        let combined = combinedWeight(model.first, adapter), norms = rowNorms(combined, columns: 6)
        let (w, m, bias, input) = (
            model.first.weight.value.toArray(), adapter.magnitude!.weight.value.toArray(), model.first.bias!.value.toArray(), x.toArray()
        )
        for row in 0..<4 {
            let matched = (0..<64).contains { mask in
                let dropped = (0..<6).map { mask >> $0 & 1 == 1 ? 2 * Double(input[row * 6 + $0]) : 0 }
                return (0..<5).allSatisfy { feature in
                    let s = Double(m[feature]) / norms[feature]
                    let plain = (0..<6).map { Double(w[feature * 6 + $0]) * Double(input[row * 6 + $0]) }.reduce(0, +)
                    let wDropped = (0..<6).map { Double(w[feature * 6 + $0]) * dropped[$0] }.reduce(0, +)
                    let combinedDropped = (0..<6).map { combined[feature * 6 + $0] * dropped[$0] }.reduce(0, +)
                    let expected = Double(bias[feature]) + plain - wDropped + s * combinedDropped
                    return abs(Double(output[row * 5 + feature]) - expected) <= 1e-5 * max(1, abs(expected))
                }
            }
            #expect(matched, "row \(row) fits no dropout mask")
        }
    }
}
