/// Classification metrics from integer labels and predicted classes. All throw a `MetricError` for
/// empty or mismatched inputs. Counts are integers, converted to Double only for the final ratios,
/// so the results do not depend on example order.
extension Metric {
    /// Share of examples whose prediction equals the label: (1/n) Σ [ŷᵢ = yᵢ].
    /// Equals `sklearn.metrics.accuracy_score(labels, predicted)`.
    public static func accuracy(labels: [Int], predicted: [Int]) throws -> Double {
        try requireMatchingCounts("accuracy", labels.count, predicted.count)
        let correct = zip(labels, predicted).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        return Double(correct) / Double(labels.count)
    }

    /// Mean over the classes present in `labels` of that class's recall TPₖ / (TPₖ + FNₖ); classes
    /// that occur only among the predictions have no recall and are left out, as in
    /// `sklearn.metrics.balanced_accuracy_score(labels, predicted)` (which warns about them).
    public static func balancedAccuracy(labels: [Int], predicted: [Int]) throws -> Double {
        let matrix = try ConfusionMatrix(labels: labels, predicted: predicted)
        let recalls = matrix.classes.indices.compactMap { index -> Double? in
            let support = matrix.labelCount(index)
            return support == 0 ? nil : Double(matrix.truePositives(index)) / Double(support)
        }
        return recalls.reduce(0, +) / Double(recalls.count)
    }

    /// Binary F1 of class 1: 2TP / (2TP + FP + FN). Labels and predictions must be 0 or 1, and
    /// class 1 must occur in at least one of them (otherwise F1 is 0/0, which scikit-learn reports
    /// as 0 with a warning; here it throws). Equals `sklearn.metrics.f1_score(labels, predicted)`.
    public static func f1(labels: [Int], predicted: [Int]) throws -> Double {
        try requireMatchingCounts("f1", labels.count, predicted.count)
        try requireBinary("f1", labels, "labels")
        try requireBinary("f1", predicted, "predictions")
        let matrix = try ConfusionMatrix(labels: labels, predicted: predicted)
        guard let positive = matrix.classes.firstIndex(of: 1) else {
            throw MetricError("f1: class 1 occurs in neither the labels nor the predictions, F1 is 0/0")
        }
        return f1(of: positive, in: matrix)
    }

    /// Unweighted mean over every class in the labels or predictions of that class's
    /// 2TPₖ / (2TPₖ + FPₖ + FNₖ). Equals `sklearn.metrics.f1_score(labels, predicted, average="macro")`.
    public static func macroF1(labels: [Int], predicted: [Int]) throws -> Double {
        let matrix = try ConfusionMatrix(labels: labels, predicted: predicted)
        let scores = matrix.classes.indices.map { f1(of: $0, in: matrix) }
        return scores.reduce(0, +) / Double(scores.count)
    }

    /// F1 of `classes[index]`; its denominator is positive because the class occurs somewhere.
    static func f1(of index: Int, in matrix: ConfusionMatrix) -> Double {
        let truePositives = matrix.truePositives(index)
        let falsePositives = matrix.predictionCount(index) - truePositives
        let falseNegatives = matrix.labelCount(index) - truePositives
        return Double(2 * truePositives) / Double(2 * truePositives + falsePositives + falseNegatives)
    }

    /// Matthews correlation (Gorodkin's multi-class R_K; the φ coefficient for two classes):
    ///
    ///     MCC = (c·s − Σₖ tₖpₖ) / √((s² − Σₖ pₖ²)(s² − Σₖ tₖ²))
    ///
    /// with s examples, c correct, tₖ the label count and pₖ the prediction count of class k. When
    /// the labels or the predictions are all one class the denominator is 0 and MCC is defined as
    /// 0 (no correlation is measurable), as `sklearn.metrics.matthews_corrcoef(labels, predicted)`
    /// does, whose float64 arithmetic this follows step for step.
    public static func matthewsCorrelation(labels: [Int], predicted: [Int]) throws -> Double {
        let matrix = try ConfusionMatrix(labels: labels, predicted: predicted)
        let labelCounts = matrix.classes.indices.map { Double(matrix.labelCount($0)) }
        let predictionCounts = matrix.classes.indices.map { Double(matrix.predictionCount($0)) }
        let samples = predictionCounts.reduce(0, +)
        let correct = Double(matrix.classes.indices.reduce(0) { $0 + matrix.truePositives($1) })
        let covariance = correct * samples - zip(labelCounts, predictionCounts).reduce(0) { $0 + $1.0 * $1.1 }
        let predictionVariance = samples * samples - predictionCounts.reduce(0) { $0 + $1 * $1 }
        let labelVariance = samples * samples - labelCounts.reduce(0) { $0 + $1 * $1 }
        let varianceProduct = predictionVariance * labelVariance
        return varianceProduct == 0 ? 0 : covariance / varianceProduct.squareRoot()
    }
}
