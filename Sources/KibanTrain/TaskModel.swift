import Foundation
import KibanData
import KibanNN
import KibanTensor

// Dim legend: B examples per batch, T tokens, E element slots, L labels, V vocabulary.

/// Sums over the examples of an evaluation, from which a task's metrics follow.
public struct TaskStatistics: Sendable {
    /// Σ loss × weight and Σ weight (examples, or masked / labelled tokens).
    var lossSum = 0.0, weight = 0.0
    /// Classification: correctly predicted examples or tokens.
    var correct = 0.0
    /// Regression, in the target's own units.
    var absoluteError = 0.0, squaredError = 0.0

    mutating func add(_ other: TaskStatistics) {
        lossSum += other.lossSum
        weight += other.weight
        correct += other.correct
        absoluteError += other.absoluteError
        squaredError += other.squaredError
    }
}

extension TaskStatistics {
    /// The sums in a fixed order, to add up over ranks.
    var values: [Double] { [lossSum, weight, correct, absoluteError, squaredError] }

    /// Statistics from ``values``.
    init(summing values: [Double]) {
        self.init(lossSum: values[0], weight: values[1], correct: values[2], absoluteError: values[3], squaredError: values[4])
    }
}

/// What a task reports besides the loss.
enum TaskMetricKind: Sendable {
    case classification, regression, languageModel
}

/// A model for one task: it turns examples into tensors, computes the training loss and the
/// statistics behind its metrics.
public final class TaskModel {
    /// The network and its parts.
    public let network: TaskNetwork
    /// The network (its parameter names are the checkpoint's).
    public var module: Module { network.module }
    /// Regression: the training targets' mean and scale that outputs are normalised by (0 and 1 otherwise).
    public let targetNormalization: (mean: Double, scale: Double)
    let metricKind: TaskMetricKind
    /// Examples → (mean loss, statistics, real tokens). Training draws crops, masks and dropout from `generator`.
    let forward: (_ examples: [Example], _ training: Bool, _ generator: RandomGenerator) -> (Tensor, TaskStatistics, Int)

    init(network: TaskNetwork, metricKind: TaskMetricKind, targetNormalization: (mean: Double, scale: Double) = (0, 1),
         forward: @escaping ([Example], Bool, RandomGenerator) -> (Tensor, TaskStatistics, Int)) {
        self.network = network
        self.metricKind = metricKind
        self.targetNormalization = targetNormalization
        self.forward = forward
    }

    /// Metric names and values: `loss` always; `accuracy` (classification), `mae` and `rmse`
    /// (regression, in target units), `perplexity` (masked-LM).
    func metrics(_ statistics: TaskStatistics) -> [String: Double] {
        let count = max(statistics.weight, 1)
        var metrics = ["loss": statistics.lossSum / count]
        switch metricKind {
        case .classification: metrics["accuracy"] = statistics.correct / count
        case .regression:
            metrics["mae"] = statistics.absoluteError / count
            metrics["rmse"] = (statistics.squaredError / count).squareRoot()
        case .languageModel: metrics["perplexity"] = Foundation.exp(statistics.lossSum / count)
        }
        return metrics
    }
}

/// Cross-entropy of classification logits, with the statistics for accuracy.
enum ClassificationObjective {
    /// logits: (N, L), targets (N) with −100 to ignore.
    static func evaluate(_ logits: Tensor, targets: [Int], weights: Tensor?, smoothing: Float) -> (Tensor, TaskStatistics) {
        let loss = logits.crossEntropy(
            targets: IndexTensor(shape: [targets.count], values: targets), labelSmoothing: smoothing, classWeights: weights)
        let classes = logits.shape[1], values = logits.toArray()
        var statistics = TaskStatistics()
        for (row, target) in targets.enumerated() where target != -100 {
            let scores = values[(row * classes)..<((row + 1) * classes)]
            let predicted = scores.indices.max { scores[$0] < scores[$1] }! - row * classes
            statistics.correct += predicted == target ? 1 : 0
            statistics.weight += 1
        }
        statistics.lossSum = Double(loss.item()) * statistics.weight
        return (loss, statistics)
    }
}

/// A regression loss on normalised targets, with errors in the original units.
struct RegressionObjective {
    let loss: RegressionLoss
    let mean: Float, scale: Float

    var normalization: (mean: Double, scale: Double) { (Double(mean), Double(scale)) }

    /// predictions: (N, 1) in normalised units; targets in original units.
    func evaluate(_ predictions: Tensor, targets: [Float]) -> (Tensor, TaskStatistics) {
        let normalised = Tensor(shape: [targets.count, 1], values: targets.map { ($0 - mean) / scale })
        let loss = self.loss(predictions, normalised)
        var statistics = TaskStatistics()
        for (prediction, target) in zip(predictions.toArray(), targets) {
            let error = Double(prediction * scale + mean - target)
            statistics.absoluteError += Swift.abs(error)
            statistics.squaredError += error * error
        }
        statistics.weight = Double(targets.count)
        statistics.lossSum = Double(loss.item()) * statistics.weight
        return (loss, statistics)
    }
}

/// Composition examples padded to the longest formula: atomic numbers, fractions and a mask.
public struct CompositionBatch {
    /// elements: (B, E) with 0 in padded slots; fractions, mask: (B, E).
    public let elements: IndexTensor, fractions: Tensor, mask: Tensor

    public init(_ examples: [Example]) {
        let slots = examples.map(\.tokens.count).max() ?? 1
        var elements: [Int] = [], fractions: [Float] = [], mask: [Float] = []
        for example in examples {
            let padding = slots - example.tokens.count
            elements += example.tokens + Array(repeating: 0, count: padding)
            fractions += example.fractions + Array(repeating: 0, count: padding)
            mask += Array(repeating: 1, count: example.tokens.count) + Array(repeating: 0, count: padding)
        }
        let shape = [examples.count, slots]
        (self.elements, self.fractions, self.mask) = (
            IndexTensor(shape: shape, values: elements), Tensor(shape: shape, values: fractions), Tensor(shape: shape, values: mask)
        )
    }
}
