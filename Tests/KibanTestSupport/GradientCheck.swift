import KibanTensor

/// Central finite-difference gradient checking for any differentiable function of tensors.
///
/// The objective is Σ w ⊙ f(inputs) with a fixed random `w`, evaluated in float32 and accumulated
/// in Double. For each input element the step is h = 1e-3·max(1, |x|), and a case passes iff
/// |g − g_fd| ≤ absoluteTolerance + relativeTolerance·|g_fd| for every element.
public enum GradientCheck {
    /// One named configuration: `function` of leaf `inputs` (which it may view, transpose or
    /// slice before the op under test so that the op sees non-contiguous operands). A case may
    /// capture modules and tensors; it is `@unchecked Sendable` so test frameworks can list
    /// cases, and each case must be run by one task at a time.
    public struct Case: @unchecked Sendable, CustomStringConvertible {
        /// Names the op and the shapes, e.g. "softmax axis 0 (4, 9)".
        public let name: String
        let makeInputs: (RandomGenerator) -> [Tensor]
        let function: ([Tensor]) -> Tensor

        /// A case whose inputs are standard normal tensors of `shapes` (times `scale`).
        public init(_ name: String, shapes: [[Int]], scale: Float = 1, _ function: @escaping ([Tensor]) -> Tensor) {
            self.init(name, inputs: { generator in shapes.map { Tensor.randn($0, scale: scale, generator: generator) } }, function)
        }

        /// A case with custom inputs (e.g. positive values for log or sqrt).
        public init(
            _ name: String, inputs: @escaping (RandomGenerator) -> [Tensor],
            _ function: @escaping ([Tensor]) -> Tensor
        ) {
            self.name = name
            self.makeInputs = inputs
            self.function = function
        }

        public var description: String { name }
    }

    /// The first element where the analytic and numeric gradients disagree.
    public struct Mismatch: CustomStringConvertible, Sendable {
        public let caseName: String
        public let inputIndex: Int
        public let inputShape: [Int]
        public let elementIndex: Int
        public let analytic: Double
        public let numeric: Double

        public var description: String {
            "gradient check '\(caseName)': input \(inputIndex) of shape \(describeShape(inputShape)), element "
                + "\(elementIndex): backward gives \(analytic), finite differences give \(numeric)"
        }
    }

    /// Runs the check and returns the first mismatch, or nil when every element passes.
    public static func run(
        _ testCase: Case, seed: UInt64 = 0, absoluteTolerance: Double = 1e-3, relativeTolerance: Double = 1e-2
    ) -> Mismatch? {
        let generator = RandomGenerator(seed: seed)
        let inputs = testCase.makeInputs(generator)
        for input in inputs {
            tensorCheck(
                input.isLeaf && input.isContiguous && input.offset == 0, "gradient_check",
                "inputs of '\(testCase.name)' must be contiguous leaves")
            input.requiresGrad = true
        }
        let output = testCase.function(inputs)
        let weights = Tensor.randn(output.shape, generator: generator)
        output.backward(gradient: weights)
        let objective = { () -> Double in
            let values = withNoGrad { testCase.function(inputs) }.toArray()
            return zip(values, weights.toArray()).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for (inputIndex, input) in inputs.enumerated() {
            let analytic = input.grad?.toArray() ?? [Float](repeating: 0, count: input.count)
            for element in 0..<input.count {
                let original = input.pointer[element]
                let step = 1e-3 * Swift.max(1, abs(original))
                input.pointer[element] = original + step
                let plus = objective(), upper = input.pointer[element]
                input.pointer[element] = original - step
                let minus = objective(), lower = input.pointer[element]
                input.pointer[element] = original
                let numeric = (plus - minus) / (Double(upper) - Double(lower))
                let gradient = Double(analytic[element])
                if !(abs(gradient - numeric) <= absoluteTolerance + relativeTolerance * abs(numeric)) {
                    return Mismatch(
                        caseName: testCase.name, inputIndex: inputIndex, inputShape: input.shape,
                        elementIndex: element, analytic: gradient, numeric: numeric)
                }
            }
        }
        return nil
    }
}
