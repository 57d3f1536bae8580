import KibanNN
import KibanTensor
import Testing

/// `addWeightedAdapter`'s svd, ties, DARE and magnitude-prune combinations on a small model: what
/// they guarantee, where DARE's masks come from, and the errors for options that do not fit
/// (PEFT parity itself is `PEFTWeightedAdapterTests`).
@Suite("LoRA merging combinations")
struct LoRAMergingTests {
    typealias Pair = LoRATests.Pair

    /// `a` (r 2, α 4) and `b` (r 2 or 3, α 3) on `first` with random B.
    func model(rankOfB: Int = 2) throws -> Pair {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try LoRAAdapterSetTests().attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        try LoRAAdapterSetTests().attach("b", to: model, rank: rankOfB, alpha: 3, targets: "^first$", seed: 3)
        return model
    }

    func adapter(_ model: Pair, _ name: String) -> LoRAAdapter { model.first.adapters.first { $0.name == name }!.adapter }

    /// B·A: (D, C) as Doubles.
    func product(_ adapter: LoRAAdapter) -> [Double] {
        withNoGrad { adapter.up.weight.value.matmul(adapter.down.weight.value) }.toArray().map(Double.init)
    }

    /// With enough rank the SVD is exact; with less it leaves exactly the discarded singular values.
    @Test func svdGivesTheBestLowRankApproximation() throws {
        let model = try model(rankOfB: 3)
        let (scalingA, scalingB) = (Double(adapter(model, "a").scaling), Double(adapter(model, "b").scaling))
        let delta = zip(product(adapter(model, "a")), product(adapter(model, "b"))).map { 0.5 * scalingA * $0 - 2 * scalingB * $1 }
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "exact", combination: .svd, svdRank: 5)
        #expect(zip(product(adapter(model, "exact")), delta).allSatisfy { abs($0 - $1) <= 1e-5 })
        let configuration = try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "low", combination: .svd)
        #expect(configuration.rank == 3 && adapter(model, "low").scaling == 1)
        let singularValues = try SingularValueDecomposition(delta, rows: 5, columns: 6).singularValues
        let residual = zip(product(adapter(model, "low")), delta).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        #expect(abs(residual - singularValues[3...].map { $0 * $0 }.reduce(0, +)) <= 1e-6)
        try LoRA.addWeightedAdapter(
            to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "thin", combination: .svd, svdFullMatrices: false)
        #expect(zip(product(adapter(model, "thin")), product(adapter(model, "low"))).allSatisfy { abs($0 - $1) <= 1e-5 }, "thin factors, same B·A")
    }

    /// svd_clamp q bounds every entry of A and B by their q-quantile, and binds below q = 1.
    @Test func svdClampBoundsTheFactors() throws {
        let model = try model()
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "free", combination: .svd)
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.5, -2], name: "clamped", combination: .svd, svdClamp: 0.8)
        let (free, clamped) = (adapter(model, "free"), adapter(model, "clamped"))
        let entries = (free.up.weight.value.toArray() + free.down.weight.value.toArray()).sorted()
        let position = 0.8 * Double(entries.count - 1), below = Int(position)
        let limit = Double(entries[below]) + (position - Double(below)) * Double(entries[below + 1] - entries[below])
        let values = clamped.up.weight.value.toArray() + clamped.down.weight.value.toArray()
        #expect(values.allSatisfy { abs(Double($0)) <= limit + 1e-6 })
        #expect(values.contains { abs(abs(Double($0)) - limit) <= 1e-6 }, "some entries sit at the bound")
    }

    /// Records DARE's requests and keeps every element.
    final class KeepAll: DAREMaskSource {
        private(set) var requests: [DAREMaskRequest] = []
        func keepMask(for request: DAREMaskRequest) -> [Float] {
            requests.append(request)
            return [Float](repeating: 1, count: request.shape.reduce(1, *))
        }
    }

    /// Kept elements are divided by the density: with masks of ones, dare_linear is linear / density.
    @Test func dareRescalesWhatItKeepsAndAsksForEveryFactor() throws {
        let model = try model()
        let keepAll = KeepAll()
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: "linear", combination: .linear)
        try LoRA.addWeightedAdapter(
            to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: "dare", combination: .dareLinear, density: 0.5, masks: keepAll)
        let (linear, dare) = (adapter(model, "linear"), adapter(model, "dare"))
        #expect(zip(dare.down.weight.value.toArray(), linear.down.weight.value.toArray()).allSatisfy { abs($0 - 2 * $1) <= 1e-6 })
        #expect(zip(dare.up.weight.value.toArray(), linear.up.weight.value.toArray()).allSatisfy { abs($0 - 2 * $1) <= 1e-6 })
        #expect(keepAll.requests.map { "\($0.layer) \($0.factor.rawValue) \($0.adapter) \($0.shape)" } == [
            "first lora_A a [2, 6]", "first lora_A b [2, 6]", "first lora_B a [5, 2]", "first lora_B b [5, 2]",
        ])
        try LoRA.addWeightedAdapter(
            to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: "dense", combination: .dareTies, density: 1, masks: keepAll)
        #expect(keepAll.requests.count == 4, "density 1 prunes nothing and draws no mask")
    }

    /// By default DARE draws from a RandomGenerator seeded 0, so two runs agree and some elements go.
    @Test func dareDrawsItsMasksFromARandomGenerator() throws {
        let model = try model()
        for name in ["first", "second"] {
            try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: name, combination: .dareLinear, density: 0.3)
        }
        try LoRA.addWeightedAdapter(
            to: model, adapters: ["a", "b"], weights: [0.7, -0.4], name: "other", combination: .dareLinear, density: 0.3,
            masks: RandomGenerator(seed: 9))
        let values = ["first", "second", "other"].map { adapter(model, $0).down.weight.value.toArray() }
        #expect(values[0] == values[1] && values[0] != values[2])
        #expect(values[0].contains(0), "pruned elements are zero where both adapters lost theirs")
    }

    /// ties keeps, per element, the weighted values whose pruned sign agrees with the majority and
    /// averages them; with density 1 and one adapter negated, agreeing values are averaged.
    @Test func tiesAveragesTheValuesThatAgree() throws {
        let model = try model()
        try LoRA.addWeightedAdapter(to: model, adapters: ["a", "b"], weights: [1, 1], name: "ties", combination: .ties, density: 1)
        let (a, b) = (adapter(model, "a"), adapter(model, "b"))
        let (rootA, rootB) = (Float(Double(a.scaling).squareRoot()), Float(Double(b.scaling).squareRoot()))
        for (index, value) in adapter(model, "ties").down.weight.value.toArray().enumerated() {
            let (x, y) = (a.down.weight.value.toArray()[index], b.down.weight.value.toArray()[index])
            let majority: Float = x + y >= 0 ? 1 : -1
            let agreeing = [(x, rootA), (y, rootB)].filter { ($0.0 > 0 ? 1 : -1) == majority }
            let expected = agreeing.map { $0.0 * $0.1 }.reduce(0, +) / Float(max(agreeing.count, 1))
            #expect(abs(value - expected) <= 1e-6, "element \(index)")
        }
    }

    @Test func unusableOptionsAreRefused() throws {
        let model = try model()
        let add = { (combination: LoRA.Combination, density: Double?, svdRank: Int?, svdClamp: Double?) in
            try LoRA.addWeightedAdapter(
                to: model, adapters: ["a", "b"], weights: [1, 1], name: "x", combination: combination, density: density, svdRank: svdRank,
                svdClamp: svdClamp)
        }
        #expect(throws: LoRA.AdapterError.self, "ties needs a density") { try add(.ties, nil, nil, nil) }
        #expect(throws: LoRA.AdapterError.self, "density above 1") { try add(.magnitudePrune, 1.5, nil, nil) }
        #expect(throws: LoRA.AdapterError.self, "negative density") { try add(.ties, -0.1, nil, nil) }
        #expect(throws: LoRA.AdapterError.self, "DARE divides by the density") { try add(.dareTies, 0, nil, nil) }
        #expect(throws: LoRA.AdapterError.self, "svd does not prune") { try add(.svd, 0.5, nil, nil) }
        #expect(throws: LoRA.AdapterError.self, "svd_rank is for svd") { try add(.ties, 0.5, 2, nil) }
        #expect(throws: LoRA.AdapterError.self, "svd_rank 0") { try add(.svd, nil, 0, nil) }
        #expect(throws: LoRA.AdapterError.self, "svd_rank above min(D, C) = 5") { try add(.svd, nil, 6, nil) }
        #expect(throws: LoRA.AdapterError.self, "svd_clamp is a quantile") { try add(.svd, nil, nil, 1.5) }
        #expect(model.adapterNames == ["a", "b"], "a refused combination adds nothing")
        #expect(throws: LoRA.AdapterError.self) { try LoRA.Combination(peftName: "dare_linear_svd") }
        #expect(try LoRA.Combination(peftName: "dare_ties") == .dareTies)

        let mixedRanks = try self.model(rankOfB: 3)
        for combination in [LoRA.Combination.ties, .dareLinear, .dareTies, .magnitudePrune] {
            #expect(throws: LoRA.AdapterError.self, "\(combination.rawValue) needs equal ranks") {
                try LoRA.addWeightedAdapter(to: mixedRanks, adapters: ["a", "b"], weights: [1, 1], name: "x", combination: combination, density: 0.5)
            }
        }
        #expect(throws: LoRA.AdapterError.self, "a mask of the wrong size") {
            try LoRA.addWeightedAdapter(
                to: model, adapters: ["a", "b"], weights: [1, 1], name: "x", combination: .dareLinear, density: 0.5, masks: WrongSize())
        }
    }

    final class WrongSize: DAREMaskSource {
        func keepMask(for request: DAREMaskRequest) -> [Float] { [1] }
    }
}
