import KibanFormats
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// Losses against PyTorch float64 references (`Tests/Fixtures/make_fixtures.py`): `F.cross_entropy`
/// with class weights, label smoothing and an ignored row; `F.mse_loss`; `F.huber_loss`;
/// `F.binary_cross_entropy_with_logits`.
@Suite("Losses against PyTorch")
struct LossTests {
    let fixtures: SafeTensorsFile

    init() throws { fixtures = try referenceFixture("foundation") }

    /// Loss of `case.x` (a leaf) and the case's constant tensors; checks value and gradient.
    func check(_ name: String, constants: [String] = ["target"], _ loss: (Tensor, [Tensor]) -> Tensor) throws {
        let x = try fixtures.tensor("\(name).x")
        x.requiresGrad = true
        let value = loss(x, try constants.map { try fixtures.tensor("\(name).\($0)") })
        let (shape, reference) = try fixtures.doubles("\(name).out")
        let mismatches = ReferenceComparison.valueMismatches(value.reshaped([1]), shape: shape, reference: reference)
        #expect(mismatches.isEmpty, "\(name): \(mismatches)")
        value.backward()
        let gradient = try #require(x.grad).toArray().map(Double.init)
        let error = ReferenceComparison.relativeError(gradient, reference: try fixtures.doubles("\(name).grad_x").values)
        #expect(error <= ReferenceComparison.gradientTolerance, "\(name): gradient error \(error)")
    }

    @Test func crossEntropyWithClassWeightsLabelSmoothingAndIgnoredRow() throws {
        let labels = try fixtures.indices("cross_entropy_smoothed_weighted.labels")
        try check("cross_entropy_smoothed_weighted", constants: ["class_weights"]) { x, constants in
            x.crossEntropy(targets: labels, labelSmoothing: 0.1, classWeights: constants[0])
        }
    }

    @Test func meanSquaredError() throws {
        try check("mse") { Loss.meanSquaredError($0, $1[0]) }
    }

    @Test func huber() throws {
        try check("huber") { Loss.huber($0, $1[0], delta: 1) }
    }

    @Test func binaryCrossEntropyWithLogits() throws {
        try check("bce_with_logits") { Loss.binaryCrossEntropyWithLogits($0, $1[0]) }
    }

    @Test func poolingIgnoresPadding() {
        let hidden = Tensor(shape: [1, 3, 2], values: [1, 2, 3, 4, 100, 100])
        let mask = Tensor(shape: [1, 3], values: [1, 1, 0])
        #expect(Pooling.mean(hidden, mask: mask).toArray() == [2, 3])
        #expect(Pooling.first(hidden, mask: mask).toArray() == [1, 2])
    }
}
