import KibanModels
import KibanNN
import KibanTensor
import Testing

/// `maskedLoss` runs the masked-LM head only at labelled positions; its loss and every parameter
/// gradient must equal the cross-entropy of the full logits with ignore index −100.
@Suite("Masked-LM loss at labelled positions only")
struct MaskedLossTests {
    static func model() -> EsmForMaskedLM {
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (32, 2, 4, 64)
        return EsmForMaskedLM(config, generator: RandomGenerator(seed: 3))
    }

    /// (B, T) = (3, 9): <cls> residues <eos>, with labels at some residues.
    static let ids = IndexTensor(shape: [3, 9], values: (0..<27).map { $0 % 9 == 0 ? 0 : $0 % 9 == 8 ? 2 : 4 + ($0 * 7) % 20 })

    /// Loss and gradients (by parameter name) of `loss` on a fresh copy of the model.
    static func lossAndGradients(_ loss: (EsmForMaskedLM) -> Tensor) -> (Float, [String: [Float]]) {
        let model = model()
        let value = loss(model)
        value.backward()
        let gradients = model.namedParameters().map { ($0.name, $0.parameter.value.grad?.toArray() ?? []) }
        return (value.item(), Dictionary(gradients, uniquingKeysWith: { first, _ in first }))
    }

    @Test func equalsFullLogitsCrossEntropy() {
        let labels = IndexTensor((0..<27).map { $0 % 4 == 1 ? 4 + $0 % 20 : -100 })
        let (full, fullGradients) = Self.lossAndGradients { model in
            model(Self.ids).reshaped([27, 33]).crossEntropy(targets: labels)
        }
        let (masked, maskedGradients) = Self.lossAndGradients { model in
            model.maskedLoss(hidden: model.esm(Self.ids), labels: labels)
        }
        #expect(abs(full - masked) <= 1e-6 * abs(full), "loss \(masked) against \(full)")
        #expect(Set(fullGradients.keys) == Set(maskedGradients.keys))
        for (name, expected) in fullGradients {
            let got = maskedGradients[name] ?? []
            let scale = expected.map { abs($0) }.max() ?? 0
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(got.count == expected.count && worst <= 1e-5 * max(scale, 1e-3), "\(name): worst |Δ| \(worst) of \(scale)")
        }
    }

    @Test func noLabelledPositionGivesZeroLoss() {
        let model = Self.model()
        let loss = model.maskedLoss(hidden: model.esm(Self.ids), labels: IndexTensor([Int](repeating: -100, count: 27)))
        #expect(loss.item() == 0)
        loss.backward()
        #expect(model.dense.weight.value.grad.map { $0.toArray().allSatisfy { $0 == 0 } } ?? true)
    }
}
