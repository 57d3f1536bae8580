import KibanNN
import KibanTensor
import Testing

/// Cross-entropy runs its rows in parallel C loops; the loss is summed in row order afterwards.
struct CrossEntropyThreadingTests {
    /// Loss and gradient are the same bit for bit at 1 and 2 threads (weights, smoothing, ignored rows).
    @Test func crossEntropyDoesNotDependOnThreads() {
        let values = Tensor.randn([1000, 40], generator: RandomGenerator(seed: 4)).toArray()
        let targets = IndexTensor(shape: [1000], values: (0..<1000).map { $0 % 7 == 0 ? -100 : ($0 * 13) % 40 })
        let weights = Tensor.uniform([40], low: 0.5, high: 2, generator: RandomGenerator(seed: 8))
        var results: [[Float]] = []
        for threads in [1, 2] {
            Threading.withThreadCount(threads) {
                let logits = Tensor(shape: [1000, 40], values: values, requiresGrad: true)
                let loss = logits.crossEntropy(targets: targets, labelSmoothing: 0.1, classWeights: weights)
                loss.backward()
                results.append([loss.item()] + (logits.grad?.toArray() ?? []))
            }
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "loss or gradient differs between 1 and 2 threads")
    }
}
