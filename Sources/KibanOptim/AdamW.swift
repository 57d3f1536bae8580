import Foundation
import KibanKernels
import KibanNN
import KibanTensor

/// AdamW with decoupled weight decay and bias correction, as `torch.optim.AdamW`:
/// θ ← θ·(1 − lr·λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − lr·m̂/(√v̂ + ε).
///
/// It updates a ``ParameterBuffer`` with one fused C loop per range. By default biases and
/// normalisation weights take no decay (the buffer's no-decay range); `decayEverything` applies
/// it to all parameters, which is what a bare `torch.optim.AdamW(model.parameters())` does.
public final class AdamW: Optimizer {
    public let buffer: ParameterBuffer
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public let decayEverything: Bool
    public private(set) var step = 0
    /// First and second moments, flat like the buffer (ZeRO shards them by the same offsets).
    let firstMoment: Storage, secondMoment: Storage

    public init(
        buffer: ParameterBuffer, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0.01, decayEverything: Bool = false
    ) {
        self.buffer = buffer
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        self.decayEverything = decayEverything
        firstMoment = Storage(count: buffer.count, repeating: 0)
        secondMoment = Storage(count: buffer.count, repeating: 0)
    }

    /// The moments in buffer order and the step count, for checkpoints.
    public var state: (step: Int, firstMoment: [Float], secondMoment: [Float]) {
        (step, Array(UnsafeBufferPointer(start: firstMoment.pointer, count: firstMoment.count)),
         Array(UnsafeBufferPointer(start: secondMoment.pointer, count: secondMoment.count)))
    }

    /// Restores ``state`` saved from an optimizer over a buffer of the same layout.
    public func restore(step: Int, firstMoment first: [Float], secondMoment second: [Float]) throws {
        guard first.count == buffer.count, second.count == buffer.count, step >= 0 else {
            throw OptimizerStateError(
                description: "AdamW state for \(first.count) parameters does not fit a buffer of \(buffer.count)")
        }
        self.step = step
        first.withUnsafeBufferPointer { firstMoment.pointer.update(from: $0.baseAddress!, count: first.count) }
        second.withUnsafeBufferPointer { secondMoment.pointer.update(from: $0.baseAddress!, count: second.count) }
    }

    public func update() {
        step += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(step)), correction2 = 1 - Foundation.pow(beta2, Float(step))
        for (range, decay) in [(buffer.decayRange, weightDecay), (buffer.noDecayRange, decayEverything ? weightDecay : 0)]
        where !range.isEmpty {
            let start = range.lowerBound
            kb_adamw_update(
                buffer.values.pointer + start, buffer.gradients.pointer + start, firstMoment.pointer + start,
                secondMoment.pointer + start, range.count, learningRate, beta1, beta2, epsilon, decay, correction1, correction2)
        }
    }
}

/// Stochastic gradient descent with momentum and L2 weight decay, as `torch.optim.SGD`:
/// g ← g + λθ; b ← μb + g (b = g on the first step); θ ← θ − lr·b.
public final class SGD: Optimizer {
    public let buffer: ParameterBuffer
    public var learningRate: Float
    public let momentum: Float, weightDecay: Float
    private let velocity: Storage
    private var hasVelocity = false

    public init(buffer: ParameterBuffer, learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.buffer = buffer
        self.learningRate = learningRate
        (self.momentum, self.weightDecay) = (momentum, weightDecay)
        velocity = Storage(count: buffer.count, repeating: 0)
    }

    public func update() {
        let (theta, gradient, buffered) = (buffer.values.pointer, buffer.gradients.pointer, velocity.pointer)
        for i in 0..<buffer.count {
            let g = gradient[i] + weightDecay * theta[i]
            buffered[i] = hasVelocity ? momentum * buffered[i] + g : g
            theta[i] -= learningRate * (momentum == 0 ? g : buffered[i])
        }
        hasVelocity = true
    }
}

/// Optimizer state that does not fit the model it is restored into.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// An optimizer over a flat parameter buffer.
public protocol Optimizer: AnyObject {
    var buffer: ParameterBuffer { get }
    var learningRate: Float { get set }
    /// Applies one update from the accumulated gradients.
    func update()
}

extension Optimizer {
    /// Zeroes the gradients before the next accumulation.
    public func zeroGradients() { buffer.zeroGradients() }
}
