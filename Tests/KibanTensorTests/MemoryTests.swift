import KibanTensor
import Testing

/// Autograd releases every intermediate as soon as backward has used it.
@Suite("Memory released by backward")
struct MemoryTests {
    @Test("after backward on a 4-layer MLP only parameters, gradients and inputs are alive")
    func intermediatesAreFreed() {
        let tracker = MemoryTracker()
        tracker.track {
            let generator = RandomGenerator(seed: 11)
            let widths = [32, 64, 64, 64, 10]
            let weights = (0..<4).map { Tensor.randn([widths[$0], widths[$0 + 1]], scale: 0.2, generator: generator, requiresGrad: true) }
            let biases = (0..<4).map { Tensor.zeros([widths[$0 + 1]], requiresGrad: true) }
            let inputs = Tensor.randn([16, 32], generator: generator)
            let targets = IndexTensor((0..<16).map { $0 % 10 })
            let floatBytes = MemoryLayout<Float>.stride
            let parameterBytes = (weights + biases).map(\.count).reduce(0, +) * floatBytes
            let inputBytes = inputs.count * floatBytes
            #expect(tracker.liveBytes == parameterBytes + inputBytes)

            func loss() -> Tensor {
                var hidden = inputs
                for layer in 0..<4 {
                    hidden = hidden.matmul(weights[layer]) + biases[layer]
                    if layer < 3 { hidden = hidden.layerNorm(weight: nil, bias: nil).gelu() }
                }
                return hidden.crossEntropy(targets: targets)
            }
            let value = loss()
            #expect(tracker.liveBytes > parameterBytes + inputBytes, "the forward pass keeps activations")
            value.backward()
            #expect((weights + biases).allSatisfy { $0.grad != nil })
            let lossBytes = floatBytes
            // Optimised builds may release a value after its last use; keep these to the end.
            withExtendedLifetime((weights, biases, inputs, value)) {
                #expect(tracker.liveBytes == 2 * parameterBytes + inputBytes + lossBytes)
            }
        }
        #expect(tracker.liveBytes == 0)
    }
}
