import Foundation
import KibanKernels
import KibanTensor

/// AdamW with decoupled weight decay and bias correction, as `torch.optim.AdamW`:
/// θ ← θ·(1 − lr·λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − lr·m̂/(√v̂ + ε).
/// One fused C kernel per parameter; parameters without a gradient are skipped.
public final class AdamW {
    /// The tensors updated in place (contiguous leaves).
    public let parameters: [Tensor]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// Steps taken so far.
    public private(set) var step = 0
    private let firstMoments: [Tensor], secondMoments: [Tensor]

    public init(
        parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0.01
    ) {
        for parameter in parameters {
            tensorCheck(
                parameter.isLeaf && parameter.isContiguous, "AdamW",
                "parameters must be contiguous leaves; got shape \(describeShape(parameter.shape))")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        firstMoments = parameters.map { Tensor.zeros($0.shape) }
        secondMoments = parameters.map { Tensor.zeros($0.shape) }
    }

    /// Applies one update from the parameters' accumulated gradients.
    public func update() {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.grad?.contiguous() else { continue }
            kb_adamw_update(
                parameter.pointer, gradient.pointer, firstMoments[index].pointer, secondMoments[index].pointer,
                parameter.count, learningRate, beta1, beta2, epsilon, weightDecay, correction1, correction2)
        }
    }

    /// Clears every parameter's gradient before the next backward pass.
    public func zeroGradients() {
        for parameter in parameters { parameter.grad = nil }
    }
}
