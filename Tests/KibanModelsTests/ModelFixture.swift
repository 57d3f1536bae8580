import Foundation
import KibanFormats
import KibanNN
import KibanOptim
import KibanTensor
import KibanTestSupport
import Testing

/// A model fixture from `Tests/Fixtures/make_model_fixtures.py`: Hugging Face (or hand-written
/// PyTorch) weights, inputs, float64 logits, loss, gradients and a 10-step AdamW loss trajectory.
struct ModelFixture {
    let file: SafeTensorsFile

    init(_ name: String) throws {
        file = try referenceFixture(name)
    }

    /// The model's config (Hugging Face `config.json` text).
    func config<Config: Decodable>(_ type: Config.Type) throws -> Config {
        try JSONDecoder().decode(type, from: Data((file.metadata["config"] ?? "{}").utf8))
    }

    /// Parameter and buffer names: everything but inputs, outputs, gradients and the trajectory.
    var parameterNames: Set<String> {
        Set(file.entries.keys.filter { !["input.", "out.", "grad.", "train."].contains(where: $0.hasPrefix) })
    }

    func stateDict() throws -> [String: Tensor] {
        try Dictionary(uniqueKeysWithValues: parameterNames.map { ($0, try file.tensor($0)) })
    }

    func indices(_ name: String) throws -> IndexTensor { try file.indices("input.\(name)") }

    /// An I64 0/1 mask as a float tensor.
    func mask(_ name: String) throws -> Tensor {
        let mask = try indices(name)
        return Tensor(shape: mask.shape, values: mask.values.map(Float.init))
    }

    /// |a − r| ≤ 1e-5·max|r| + 1e-4·|r| elementwise. Returns the largest |a − r|.
    @discardableResult
    func expectValues(_ actual: Tensor, _ name: String) throws -> Double {
        let (shape, reference) = try file.doubles(name)
        let mismatches = ReferenceComparison.valueMismatches(actual, shape: shape, reference: reference)
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) values off, first \(mismatches.first ?? "")")
        return zip(actual.toArray(), reference).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    /// ‖Δ‖₂/‖r‖₂ ≤ 1e-3 for every parameter's gradient. A gradient that is zero in exact
    /// arithmetic (attention key biases: softmax ignores a per-row shift) has a float64 reference
    /// of rounding noise (‖r‖ < 1e-12), where a ratio means nothing; there Kiban's float32
    /// gradient must stay at float32 noise, ‖g‖ ≤ 1e-6. Tied parameters are looked up under
    /// whichever of their names the fixture uses. `trainableOnly` skips frozen parameters (an
    /// adapter's fixture has gradients for the adapter alone). Returns the worst relative error.
    @discardableResult
    func expectGradients(of module: Module, trainableOnly: Bool = false) throws -> Double {
        var names: [ObjectIdentifier: [String]] = [:]
        for (name, parameter) in module.namedParameters() { names[ObjectIdentifier(parameter), default: []].append(name) }
        var checked = 0, worst = 0.0
        for (name, parameter) in module.uniqueParameters() where !parameter.isBuffer && !(trainableOnly && parameter.isFrozen) {
            let aliases = names[ObjectIdentifier(parameter)] ?? [name]
            guard let key = aliases.map({ "grad.\($0)" }).first(where: { file.entries[$0] != nil }) else {
                Issue.record("no reference gradient for \(aliases)")
                continue
            }
            let reference = try file.doubles(key).values
            let actual = parameter.value.grad?.toArray().map(Double.init) ?? [Double](repeating: 0, count: reference.count)
            let isZero = reference.map { $0 * $0 }.reduce(0, +).squareRoot() < 1e-12
            let error = ReferenceComparison.relativeError(actual, reference: reference)
            #expect(error <= (isZero ? 1e-6 : ReferenceComparison.gradientTolerance), "\(key): error \(error)")
            (checked, worst) = (checked + 1, max(worst, error))
        }
        #expect(checked > 0)
        return worst
    }

    /// Replays the fixture's 10 training steps: AdamW(lr 1e-2, decay 0.01 on every parameter),
    /// warm-up over 3 steps then cosine to 0 at step 10, global norm clipping at 1.
    /// Step 1 within 1e-5 relative, steps 2–10 within 1e-3.
    func expectTrainingTrajectory(of module: Module, loss: () -> Tensor) throws {
        let reference = try file.doubles("train.losses").values
        let buffer = ParameterBuffer(module: module)
        let optimizer = AdamW(buffer: buffer, learningRate: 1e-2, weightDecay: 0.01, decayEverything: true)
        let schedule = LearningRateSchedule.warmupCosine(warmupSteps: 3, totalSteps: 10)
        for (step, expected) in reference.enumerated() {
            optimizer.zeroGradients()
            let value = loss()
            value.backward()
            let relative = abs(Double(value.item()) - expected) / abs(expected)
            #expect(relative <= (step == 0 ? 1e-5 : 1e-3), "step \(step + 1): loss \(value.item()) vs \(expected)")
            buffer.clipGradientNorm(1)
            optimizer.learningRate = Float(1e-2 * schedule.factor(step: step))
            optimizer.update()
        }
    }
}

/// Mean cross-entropy of (B, T, V) logits against (B, T) labels with −100 ignored; `shift`
/// predicts token t+1 from position t (causal LM).
func languageModelLoss(_ logits: Tensor, labels: IndexTensor, shift: Bool) -> Tensor {
    let (batch, tokens, vocabulary) = (logits.shape[0], logits.shape[1], logits.shape[2])
    guard shift else {
        return logits.reshaped([batch * tokens, vocabulary]).crossEntropy(targets: IndexTensor(labels.values))
    }
    var shifted: [Int] = []
    for row in 0..<batch { shifted += labels.values[(row * tokens + 1)..<((row + 1) * tokens)] }
    let predictions = logits.sliced(axis: 1, 0..<(tokens - 1)).reshaped([batch * (tokens - 1), vocabulary])
    return predictions.crossEntropy(targets: IndexTensor(shifted))
}
