import Foundation
import KibanNN
import KibanOptim
import KibanTensor
import Testing

/// A tiny module with a decaying weight, a non-decaying bias and a frozen extra.
final class TinyModel: Module {
    let layer: Linear, norm: LayerNorm

    init(seed: UInt64) {
        let generator = RandomGenerator(seed: seed)
        layer = Linear(3, 2, initialization: .normal(std: 0.5), generator: generator)
        norm = LayerNorm(2)
    }

    override var children: [(key: String, module: Module)] { [("layer", layer), ("norm", norm)] }

    func loss(_ x: Tensor, _ targets: IndexTensor) -> Tensor {
        norm(layer(x)).crossEntropy(targets: targets)
    }
}

@Suite("Parameter buffers and optimizers")
struct OptimizerTests {
    let inputs = Tensor(shape: [4, 3], values: [0.5, -1, 2, 1, 0, -0.5, -2, 1, 1, 0.3, 0.2, -0.1])
    let targets = IndexTensor([0, 1, 1, 0])

    @Test func bufferViewsParametersAndGroupsDecay() {
        let model = TinyModel(seed: 1)
        let before = model.stateDict().mapValues { $0.toArray() }
        let buffer = ParameterBuffer(module: model)
        #expect(buffer.count == model.parameterCount)
        #expect(buffer.parameters.map(\.name) == ["layer.weight", "layer.bias", "norm.weight", "norm.bias"])
        #expect(buffer.decayRange == 0..<6 && buffer.noDecayRange == 6..<12)
        #expect(model.stateDict().mapValues { $0.toArray() } == before)
        #expect(model.layer.weight.value.storage === buffer.values)
        model.loss(inputs, targets).backward()
        #expect(model.layer.weight.value.grad?.storage === buffer.gradients)
        #expect(buffer.gradientNorm() > 0)
    }

    @Test func frozenParametersStayOutOfTheBuffer() {
        let model = TinyModel(seed: 1)
        model.norm.freeze()
        let buffer = ParameterBuffer(module: model)
        #expect(buffer.parameters.map(\.name) == ["layer.weight", "layer.bias"])
        model.loss(inputs, targets).backward()
        #expect(model.norm.weight.value.grad == nil)
    }

    @Test func adamWMatchesTheTorchFormula() {
        let model = TinyModel(seed: 2)
        let buffer = ParameterBuffer(module: model)
        let optimizer = AdamW(buffer: buffer, learningRate: 0.1, weightDecay: 0.5)
        var theta = (0..<buffer.count).map { Double(buffer.values.pointer[$0]) }
        var m = [Double](repeating: 0, count: buffer.count), v = m
        for step in 1...3 {
            optimizer.zeroGradients()
            model.loss(inputs, targets).backward()
            for i in 0..<buffer.count {
                let g = Double(buffer.gradients.pointer[i])
                let decay = buffer.decayRange.contains(i) ? 0.5 : 0
                theta[i] *= 1 - 0.1 * decay
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mHat = m[i] / (1 - pow(0.9, Double(step))), vHat = v[i] / (1 - pow(0.999, Double(step)))
                theta[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            }
            optimizer.update()
            for i in 0..<buffer.count {
                #expect(abs(Double(buffer.values.pointer[i]) - theta[i]) < 1e-5, "step \(step) element \(i)")
            }
        }
    }

    @Test func sgdMomentumMatchesTheTorchFormula() {
        let model = TinyModel(seed: 3)
        let buffer = ParameterBuffer(module: model)
        let optimizer = SGD(buffer: buffer, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var theta = (0..<buffer.count).map { Double(buffer.values.pointer[$0]) }
        var velocity = [Double](repeating: 0, count: buffer.count)
        for step in 0..<3 {
            optimizer.zeroGradients()
            model.loss(inputs, targets).backward()
            for i in 0..<buffer.count {
                let g = Double(buffer.gradients.pointer[i]) + 0.01 * theta[i]
                velocity[i] = step == 0 ? g : 0.9 * velocity[i] + g
                theta[i] -= 0.1 * velocity[i]
            }
            optimizer.update()
            for i in 0..<buffer.count { #expect(abs(Double(buffer.values.pointer[i]) - theta[i]) < 1e-5) }
        }
    }

    @Test func clippingScalesToTheMaximumNorm() {
        let model = TinyModel(seed: 4)
        let buffer = ParameterBuffer(module: model)
        (model.loss(inputs, targets) * 100).backward()
        let before = buffer.clipGradientNorm(0.5)
        #expect(before > 0.5)
        #expect(abs(buffer.gradientNorm() - 0.5) < 1e-4)
    }

    @Test func accumulatedHalfBatchesEqualTheFullBatch() {
        let model = TinyModel(seed: 5)
        let buffer = ParameterBuffer(module: model)
        model.loss(inputs, targets).backward()
        let full = (0..<buffer.count).map { buffer.gradients.pointer[$0] }
        buffer.zeroGradients()
        for half in [0..<2, 2..<4] {
            let part = IndexTensor(Array(targets.values[half]))
            (model.loss(inputs.sliced(axis: 0, half), part) * 0.5).backward()
        }
        for i in 0..<buffer.count { #expect(abs(buffer.gradients.pointer[i] - full[i]) < 1e-6) }
    }

    @Test func schedulesWarmUpThenDecay() {
        let cosine = LearningRateSchedule.warmupCosine(warmupSteps: 3, totalSteps: 10)
        #expect((0..<3).map { cosine.factor(step: $0) } == [1.0 / 3, 2.0 / 3, 1])
        #expect(abs(cosine.factor(step: 10)) < 1e-12 && cosine.factor(step: 3) == 1)
        let linear = LearningRateSchedule.warmupLinear(warmupSteps: 2, totalSteps: 6)
        #expect([2, 4, 6].map { linear.factor(step: $0) } == [1, 0.5, 0])
        #expect(LearningRateSchedule.constant.factor(step: 99) == 1)
    }
}

@Suite("Module modes")
struct ModuleModeTests {
    @Test func evalReachesDropoutInsideModels() {
        let head = SequenceHead(hiddenSize: 4, outputs: 2, pooling: .mean, dropout: 0.5, generator: RandomGenerator(seed: 1))
        let hidden = Tensor.ones([3, 5, 4])
        head.eval()
        #expect(head(hidden, mask: nil).toArray() == head(hidden, mask: nil).toArray())
        head.train()
        #expect(head(hidden, mask: nil).toArray() != head(hidden, mask: nil).toArray())
    }
}
