import Foundation
import KibanFormats
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// Kiban (float32) against PyTorch float64 references from `Tests/Fixtures/make_fixtures.py`.
/// Values: |a − r| ≤ 1e-5·max|r| + 1e-4·|r| elementwise. Gradients: ‖Δ‖₂/‖r‖₂ ≤ 1e-3 per tensor.
@Suite("PyTorch reference fixtures")
struct FixtureTests {
    static let fixtures: SafeTensorsFile = {
        do { return try referenceFixture("foundation") } catch { fatalError("\(error)") }
    }()

    /// Loads `case.name` as a float32 leaf that requires a gradient.
    func input(_ name: String) throws -> Tensor {
        let tensor = try Self.fixtures.tensor(name)
        tensor.requiresGrad = true
        return tensor
    }

    func expectValues(_ actual: Tensor, _ name: String) throws {
        let (shape, reference) = try Self.fixtures.doubles(name)
        let mismatches = ReferenceComparison.valueMismatches(actual, shape: shape, reference: reference)
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) values off, first \(mismatches.first ?? "")")
    }

    func expectGradient(_ tensor: Tensor, _ name: String) throws {
        let gradient = try #require(tensor.grad, "\(name): no gradient")
        let (shape, reference) = try Self.fixtures.doubles(name)
        #expect(gradient.shape == shape, "\(name): shape \(gradient.shape) vs \(shape)")
        let relative = ReferenceComparison.relativeError(gradient.toArray().map(Double.init), reference: reference)
        #expect(relative <= ReferenceComparison.gradientTolerance, "\(name): relative error \(relative)")
    }

    /// Runs a single-output case: out = op(inputs), backward with the stored upstream weight `w`.
    func checkCase(_ name: String, inputs inputNames: [String], gradients: [String], _ op: ([Tensor]) -> Tensor) throws {
        let inputs = try inputNames.map { try input("\(name).\($0)") }
        let output = op(inputs)
        try expectValues(output, "\(name).out")
        output.backward(gradient: try Self.fixtures.tensor("\(name).w"))
        for (tensor, gradientName) in zip(inputs, gradients) { try expectGradient(tensor, "\(name).\(gradientName)") }
    }

    @Test func matmul() throws {
        try checkCase("matmul", inputs: ["a", "b"], gradients: ["grad_a", "grad_b"]) { $0[0].matmul($0[1]) }
    }

    @Test func matmulWithTransposedOperand() throws {
        try checkCase("matmul_transposed", inputs: ["a", "b"], gradients: ["grad_a", "grad_b"]) {
            $0[0].transposed().matmul($0[1])
        }
    }

    @Test func batchedMatmul() throws {
        try checkCase("bmm", inputs: ["a", "b"], gradients: ["grad_a", "grad_b"]) { $0[0].matmul($0[1]) }
    }

    @Test func batchedMatmulBroadcast() throws {
        try checkCase("bmm_broadcast", inputs: ["a", "b"], gradients: ["grad_a", "grad_b"]) { $0[0].matmul($0[1]) }
    }

    @Test func softmax() throws {
        try checkCase("softmax", inputs: ["x"], gradients: ["grad_x"]) { $0[0].softmax() }
    }

    @Test func softmaxOverFirstAxis() throws {
        try checkCase("softmax_dim0", inputs: ["x"], gradients: ["grad_x"]) { $0[0].softmax(axis: 0) }
    }

    @Test func logSoftmax() throws {
        try checkCase("log_softmax", inputs: ["x"], gradients: ["grad_x"]) { $0[0].logSoftmax() }
    }

    @Test func layerNorm() throws {
        try checkCase("layernorm", inputs: ["x", "weight", "bias"], gradients: ["grad_x", "grad_weight", "grad_bias"]) {
            $0[0].layerNorm(weight: $0[1], bias: $0[2], epsilon: 1e-5)
        }
    }

    @Test func geluTanh() throws {
        try checkCase("gelu_tanh", inputs: ["x"], gradients: ["grad_x"]) { $0[0].gelu(approximation: .tanh) }
    }

    @Test func geluErf() throws {
        try checkCase("gelu_erf", inputs: ["x"], gradients: ["grad_x"]) { $0[0].gelu(approximation: .none) }
    }

    @Test func twoLayerMLPWithCrossEntropy() throws {
        let names = ["x", "w1", "b1", "w2", "b2"]
        let tensors = try names.map { try input("mlp.\($0)") }
        let (x, w1, b1, w2, b2) = (tensors[0], tensors[1], tensors[2], tensors[3], tensors[4])
        let logits = ((x.matmul(w1) + b1).gelu().matmul(w2)) + b2
        try expectValues(logits, "mlp.logits")
        let loss = logits.crossEntropy(targets: try Self.fixtures.indices("mlp.labels"))
        try expectValues(loss.reshaped([1]), "mlp.loss")
        loss.backward()
        for (tensor, name) in zip(tensors, names) { try expectGradient(tensor, "mlp.grad_\(name)") }
    }
}

