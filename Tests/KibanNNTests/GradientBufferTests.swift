import KibanNN
import KibanTensor
import Testing

/// Linear and embedding backward passes add their weight gradients straight into a flat gradient
/// buffer when the parameters have one (ParameterBuffer), instead of returning temporaries: the
/// gradients must equal those of the same model without a buffer, accumulate over two backward
/// passes, and leave the embedding rows that no id selects at zero.
@Suite("Gradients accumulated into the flat buffer")
struct GradientBufferTests {
    final class Model: Module {
        let embedding: Embedding, linear: Linear

        override init() {
            let generator = RandomGenerator(seed: 9)
            embedding = Embedding(11, 6, generator: generator)
            linear = Linear(6, 5, initialization: .normal(std: 0.3), generator: generator)
        }

        override var children: [(key: String, module: Module)] { [("embedding", embedding), ("linear", linear)] }

        /// ids: (B, T) → a scalar loss.
        func loss(_ ids: IndexTensor) -> Tensor {
            (linear(embedding(ids)).gelu() * linear(embedding(ids))).sum()
        }
    }

    static let ids = IndexTensor(shape: [2, 3], values: [1, 4, 4, 7, 1, 9])

    /// Gradients by parameter name after `passes` backward passes, with or without a flat buffer.
    static func gradients(buffered: Bool, passes: Int) -> [String: [Float]] {
        let model = Model()
        let buffer = buffered ? ParameterBuffer(module: model) : nil
        buffer?.zeroGradients()
        for _ in 0..<passes { model.loss(ids).backward() }
        return Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter.value.grad?.toArray() ?? []) })
    }

    @Test func bufferedGradientsEqualReturnedOnes() {
        let plain = Self.gradients(buffered: false, passes: 2), buffered = Self.gradients(buffered: true, passes: 2)
        #expect(Set(plain.keys) == ["embedding.weight", "linear.weight", "linear.bias"] && Set(buffered.keys) == Set(plain.keys))
        for (name, expected) in plain {
            let got = buffered[name] ?? []
            let worst = zip(got, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(got.count == expected.count && worst <= 1e-6, "\(name): worst \(worst)")
        }
        let once = Self.gradients(buffered: true, passes: 1)["linear.weight"]!
        #expect(zip(once, buffered["linear.weight"]!).allSatisfy { abs(2 * $0 - $1) <= 1e-5 * max(1, abs($1)) }, "two passes accumulate")
        let unused = Set(0..<11).subtracting(Self.ids.values)
        let table = buffered["embedding.weight"]!
        #expect(unused.allSatisfy { row in (0..<6).allSatisfy { table[row * 6 + $0] == 0 } })
    }
}
