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
    /// The offsets of the buffer this optimizer updates and keeps moments for: all of it, or one
    /// rank's ZeRO shard (the other ranks update the rest).
    public let shard: Range<Int>
    /// First and second moments of `shard`.
    let firstMoment: Storage, secondMoment: Storage

    /// What a checkpoint stores: the step and the moments of the whole buffer, in buffer order.
    public struct State {
        public var step: Int
        public var firstMoment: [Float], secondMoment: [Float]

        public init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
            (self.step, self.firstMoment, self.secondMoment) = (step, firstMoment, secondMoment)
        }
    }

    /// `shard`: the offsets this optimizer owns (nil: the whole buffer).
    public init(
        buffer: ParameterBuffer, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0.01, decayEverything: Bool = false, shard: Range<Int>? = nil
    ) {
        self.buffer = buffer
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        self.decayEverything = decayEverything
        self.shard = shard ?? 0..<buffer.count
        firstMoment = Storage(count: self.shard.count, repeating: 0)
        secondMoment = Storage(count: self.shard.count, repeating: 0)
    }

    /// The step and this optimizer's moments (of `shard`, in buffer order).
    public var shardState: State {
        State(
            step: step, firstMoment: Array(UnsafeBufferPointer(start: firstMoment.pointer, count: firstMoment.count)),
            secondMoment: Array(UnsafeBufferPointer(start: secondMoment.pointer, count: secondMoment.count)))
    }

    /// The state of an optimizer over the whole buffer (a sharded one gathers it: see ``shardState``).
    public var state: State {
        precondition(shard == 0..<buffer.count, "a ZeRO shard holds part of the state; gather every rank's shardState")
        return shardState
    }

    /// Restores a ``State`` of the whole buffer saved from an optimizer over a buffer of the same
    /// layout, at any sharding; this optimizer keeps its shard's part.
    public func restore(_ saved: State) throws {
        guard saved.firstMoment.count == buffer.count, saved.secondMoment.count == buffer.count, saved.step >= 0 else {
            throw OptimizerStateError(
                description: "AdamW state for \(saved.firstMoment.count) parameters does not fit a buffer of \(buffer.count)")
        }
        step = saved.step
        let upper = min(shard.upperBound, buffer.count), kept = max(0, upper - shard.lowerBound)
        firstMoment.pointer.update(repeating: 0, count: firstMoment.count)
        secondMoment.pointer.update(repeating: 0, count: secondMoment.count)
        saved.firstMoment.withUnsafeBufferPointer { firstMoment.pointer.update(from: $0.baseAddress! + shard.lowerBound, count: kept) }
        saved.secondMoment.withUnsafeBufferPointer { secondMoment.pointer.update(from: $0.baseAddress! + shard.lowerBound, count: kept) }
    }

    public func update() {
        update(gradients: UnsafePointer(buffer.gradients.pointer + shard.lowerBound))
    }

    /// One update of the parameters in `shard` from `gradients`, the gradients of `shard` (ZeRO-2
    /// passes its reduce-scattered shard; ``update()`` passes the buffer's own).
    public func update(gradients: UnsafePointer<Float>) {
        step += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(step)), correction2 = 1 - Foundation.pow(beta2, Float(step))
        for (range, decay) in [(buffer.decayRange, weightDecay), (buffer.noDecayRange, decayEverything ? weightDecay : 0)] {
            let owned = range.clamped(to: shard)
            guard !owned.isEmpty else { continue }
            let local = owned.lowerBound - shard.lowerBound
            kb_adamw_update(
                buffer.values.pointer + owned.lowerBound, gradients + local, firstMoment.pointer + local,
                secondMoment.pointer + local, owned.count, learningRate, beta1, beta2, epsilon, decay, correction1, correction2)
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
