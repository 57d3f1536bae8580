import Foundation
import KibanNN
import KibanTensor
import Testing

// Dim legend: N rows, C input features, D output features.

/// int8 (W8A8) Linear layers: error against the float layer, threading, adapters, exclusions, and the
/// inference-only contract.
@Suite("int8 quantised Linear")
struct QuantizedLinearTests {
    typealias Pair = LoRATests.Pair

    /// Rows of x: (N, C) and rows of w: (D, C) as Float arrays.
    func rows(_ t: Tensor) -> [[Float]] {
        let values = t.toArray(), width = t.shape[t.rank - 1]
        return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
    }

    /// Symmetric quantisation rounds each x[n, c] to a multiple of s_x[n] = max|x[n, :]| / 127 with error at
    /// most s_x[n]/2, and each w[d, c] to ŵ, a multiple of s_w[d], with error at most s_w[d]/2. So
    ///   |x·w − x̂·ŵ| ≤ Σ_c |x_c||w_c − ŵ_c| + |ŵ_c||x_c − x̂_c| ≤ s_w/2·‖x‖₁ + s_x/2·(‖w‖₁ + C·s_w/2),
    /// the worst case, checked per output (plus 1e-4·Σ|x_c w_c| for float rounding in both GEMMs). With errors
    /// spread uniformly, each term has variance s²/12, so the RMS error over all outputs should be close to
    ///   √(mean over (n, d) of (s_w²‖x‖₂² + s_x²‖w‖₂²) / 12);
    /// it must lie within [0.75, 1.33] times that prediction (a lower bound too, so a layer that silently stayed
    /// float would fail). Measured: 1.06 × the prediction, the worst output at 10% of its worst-case bound.
    @Test func errorStaysWithinTheQuantisationBound() {
        let generator = RandomGenerator(seed: 4)
        let (c, d) = (300, 70)
        let linear = Linear(c, d, initialization: .normal(std: 0.05), generator: generator)
        withNoGrad { linear.bias!.value.assign(Tensor.randn([d], generator: generator)) }
        let x = Tensor.randn([3, 5, c], generator: generator)
        let reference = withNoGrad { linear(x) }
        linear.quantizeToInt8()
        #expect(linear.isQuantized)
        let quantized = withNoGrad { linear(x) }
        #expect(quantized.shape == [3, 5, d])
        let (xs, ws) = (rows(x), rows(linear.weight.value))
        let (expected, actual) = (reference.toArray(), quantized.toArray())
        var squaredError = 0.0, predictedSquared = 0.0, worstFraction = 0.0
        for (n, xRow) in xs.enumerated() {
            let sx = Double(xRow.map(abs).max()! / 127)
            for (j, wRow) in ws.enumerated() {
                let sw = Double(wRow.map(abs).max()! / 127)
                let x1 = xRow.map { Double(abs($0)) }.reduce(0, +), w1 = wRow.map { Double(abs($0)) }.reduce(0, +)
                let x2 = xRow.map { Double($0 * $0) }.reduce(0, +), w2 = wRow.map { Double($0 * $0) }.reduce(0, +)
                let magnitude = zip(xRow, wRow).map { Double(abs($0 * $1)) }.reduce(0, +)
                let bound = sw / 2 * x1 + sx / 2 * (w1 + Double(c) * sw / 2) + 1e-4 * magnitude
                let error = Double(abs(actual[n * d + j] - expected[n * d + j]))
                #expect(error <= bound, "output (\(n), \(j)): error \(error) over the bound \(bound)")
                worstFraction = max(worstFraction, error / bound)
                squaredError += error * error
                predictedSquared += (sw * sw * x2 + sx * sx * w2) / 12
            }
        }
        let ratio = (squaredError / predictedSquared).squareRoot()
        #expect(ratio >= 0.75 && ratio <= 1.33, "RMS error is \(ratio) × the prediction (worst output at \(worstFraction) of its bound)")
    }

    /// The layer's forward pass is `Tensor.int8Linear` on an `Int8Weight` of its weight, bit for bit, and rows are
    /// independent: 1 or 2 threads give the same bits.
    @Test func forwardIsInt8LinearAndIndependentOfThreads() {
        let generator = RandomGenerator(seed: 8)
        let linear = Linear(70, 33, initialization: .normal(std: 0.1), generator: generator)
        withNoGrad { linear.bias!.value.assign(Tensor.randn([33], generator: generator)) }
        let x = Tensor.randn([130, 70], generator: generator)
        let direct = withNoGrad { Tensor.int8Linear(x, weight: Int8Weight(linear.weight.value), bias: linear.bias!.value) }
        linear.quantizeToInt8()
        let one = withNoGrad { Threading.withThreadCount(1) { linear(x) } }
        let two = withNoGrad { Threading.withThreadCount(2) { linear(x) } }
        #expect(one.toArray() == direct.toArray())
        #expect(two.toArray() == one.toArray())
        let unbiased = Linear(70, 33, bias: false, initialization: .normal(std: 0.1), generator: generator)
        let plain = withNoGrad { Tensor.int8Linear(x, weight: Int8Weight(unbiased.weight.value), bias: nil) }
        unbiased.quantizeToInt8()
        #expect(withNoGrad { unbiased(x) }.toArray() == plain.toArray())
    }

    /// Quantising keeps the float weights (the state dict is unchanged) and dequantising gives the float outputs back.
    @Test func floatWeightsStayAndDequantisingRestoresFloat() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        let x = Tensor.randn([4, 6], generator: RandomGenerator(seed: 3))
        let before = model.stateDict().mapValues { $0.toArray() }, reference = withNoGrad { model(x) }.toArray()
        #expect(try model.quantizeLinears() == ["first", "second"])
        #expect(model.stateDict().mapValues { $0.toArray() } == before)
        #expect(withNoGrad { model(x) }.toArray() != reference, "the int8 path ran")
        model.dequantizeLinears()
        #expect(!model.first.isQuantized && !model.second.isQuantized)
        #expect(withNoGrad { model(x) }.toArray() == reference)
    }

    /// An active unmerged adapter is merged before packing; adapter layers themselves are never packed.
    @Test func activeAdaptersAreMergedFirst() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        try LoRAAdapterSetTests().attach("a", to: model, rank: 2, alpha: 4, targets: "^first$", seed: 2)
        let x = Tensor.randn([64, 6], generator: RandomGenerator(seed: 3))
        let adapted = withNoGrad { model(x) }.toArray()
        #expect(try model.quantizeLinears() == ["first", "second"])
        #expect(model.first.isMerged && model.first.isQuantized)
        #expect(!model.first.adapters[0].adapter.up.isQuantized && !model.first.adapters[0].adapter.down.isQuantized)
        let quantized = withNoGrad { model(x) }.toArray()
        let relative = zip(quantized, adapted).map { Double(abs($0 - $1)) }.reduce(0, +) / adapted.map { Double(abs($0)) }.reduce(0, +)
        #expect(relative < 0.03, "mean relative error \(relative) of the merged, quantised model")
    }

    @Test func exclusionsAreRegularExpressionsOverPaths() throws {
        let model = Pair(generator: RandomGenerator(seed: 1))
        #expect(try model.quantizeLinears(to: .int8, excluding: ["^sec"]) == ["first"])
        #expect(model.first.isQuantized && !model.second.isQuantized)
        #expect(throws: (any Error).self) { try Pair(generator: RandomGenerator(seed: 1)).quantizeLinears(excluding: ["("]) }
    }

    /// Recording a quantised layer on the tape stops with a message that says what to do.
    @Test func gradientsThroughAQuantisedLayerStop() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let linear = Linear(4, 3, initialization: .normal(std: 0.1), generator: RandomGenerator(seed: 1))
            linear.quantizeToInt8()
            _ = linear(Tensor.ones([2, 4]))
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("kiban: int8 linear") && message.contains("withNoGrad"), "\(message)")
    }

    /// Frozen weights and an input without a gradient record nothing, so the int8 path runs with the tape on.
    @Test func frozenLayersRunWithTheTapeOn() {
        let linear = Linear(4, 3, initialization: .normal(std: 0.1), generator: RandomGenerator(seed: 1))
        linear.freeze()
        let x = Tensor.randn([2, 4], generator: RandomGenerator(seed: 2))
        linear.quantizeToInt8()
        #expect(linear(x).toArray() == withNoGrad { linear(x) }.toArray())
    }

    /// Switching adapters after packing would use a stale int8 weight: the forward pass stops instead.
    @Test func changingAdaptersAfterPackingStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let model = Pair(generator: RandomGenerator(seed: 1))
            _ = try? LoRA.apply(to: model, configuration: LoRAConfiguration(rank: 2, alpha: 4, targetModules: ["^first$"]), generator: RandomGenerator(seed: 2))
            _ = try? model.quantizeLinears()
            model.first.activeAdapter = nil
            _ = withNoGrad { model(Tensor.ones([1, 6])) }
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("quantise again"), "\(message)")
    }
}
