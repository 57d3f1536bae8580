import Foundation

/// A learning-rate multiplier by update index (0 for the first update).
public enum LearningRateSchedule: Sendable, Equatable {
    /// Always 1.
    case constant
    /// (step + 1) / warmup during warm-up, then a half cosine from 1 to `minimumFactor` at `totalSteps`.
    case warmupCosine(warmupSteps: Int, totalSteps: Int, minimumFactor: Double = 0)
    /// (step + 1) / warmup during warm-up, then linear from 1 to 0 at `totalSteps`.
    case warmupLinear(warmupSteps: Int, totalSteps: Int)

    /// The multiplier of the base learning rate for update `step`.
    public func factor(step: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .warmupCosine(let warmup, let total, let minimum):
            if step < warmup { return Double(step + 1) / Double(warmup) }
            let progress = min(1, Double(step - warmup) / Double(max(1, total - warmup)))
            return minimum + (1 - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        case .warmupLinear(let warmup, let total):
            if step < warmup { return Double(step + 1) / Double(warmup) }
            return max(0, Double(total - step) / Double(max(1, total - warmup)))
        }
    }
}
