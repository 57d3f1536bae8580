/// Binary ranking metrics and curves from 0/1 labels and real-valued scores (higher = more likely
/// class 1; any monotone scale: probabilities, logits). Tied scores form one threshold, so the
/// results do not depend on example order. All throw a `MetricError` for empty or mismatched
/// inputs, labels other than 0/1 and non-finite scores.
extension Metric {
    /// Area under the ROC curve by the rank-sum (Mann–Whitney) form,
    ///
    ///     AUROC = (Σ_{i: yᵢ=1} rankᵢ − P(P+1)/2) / (P·N),
    ///
    /// with ascending ranks from 1 and tied scores sharing their mean rank, P positives and N
    /// negatives: the probability that a random positive outscores a random negative, ties
    /// counting ½. Equals `sklearn.metrics.roc_auc_score(labels, scores)`, the trapezoidal area
    /// under `roc_curve`. Throws when the labels hold a single class.
    public static func auroc(labels: [Int], scores: [Double]) throws -> Double {
        try requireRankingInput("auroc", labels, scores)
        let positives = labels.reduce(0, +)
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else {
            throw MetricError("auroc: the labels hold a single class (\(positives) positives, \(negatives) negatives); AUROC needs both")
        }
        let ranks = averageRanks(scores)
        let positiveRankSum = zip(labels, ranks).reduce(0) { $0 + ($1.0 == 1 ? $1.1 : 0) }
        let positiveCount = Double(positives)
        return (positiveRankSum - positiveCount * (positiveCount + 1) / 2) / (positiveCount * Double(negatives))
    }

    /// Average precision, the step-wise area under the precision–recall curve:
    ///
    ///     AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ
    ///
    /// over the distinct scores taken as thresholds in descending order, where Pₖ and Rₖ are the
    /// precision and recall of predicting class 1 for every score ≥ threshold k (R₀ = 0). Tied
    /// scores enter together; no interpolation. Equals
    /// `sklearn.metrics.average_precision_score(labels, scores)`. Throws when no label is 1.
    public static func averagePrecision(labels: [Int], scores: [Double]) throws -> Double {
        let thresholds = try cumulativeCounts("auprc", labels, scores)
        let positives = try requirePositives("auprc", thresholds)
        var area = 0.0
        var previousTruePositives = 0
        for point in thresholds {
            let precision = Double(point.truePositives) / Double(point.truePositives + point.falsePositives)
            area += Double(point.truePositives - previousTruePositives) / Double(positives) * precision
            previousTruePositives = point.truePositives
        }
        return area
    }

    /// ROC curve points, as `sklearn.metrics.roc_curve(labels, scores)` with its default
    /// `drop_intermediate=True`: one point per distinct score (descending thresholds) after a first
    /// point (0, 0) at threshold +∞, dropping points collinear with both neighbours (zero second
    /// difference of both the false- and true-positive counts). Throws when the labels hold a
    /// single class.
    public static func rocCurve(labels: [Int], scores: [Double]) throws -> ROCCurve {
        let thresholds = try cumulativeCounts("roc curve", labels, scores)
        let positives = try requirePositives("roc curve", thresholds)
        let negatives = thresholds.last!.falsePositives
        guard negatives > 0 else { throw MetricError("roc curve: the labels hold no negatives; the false-positive rate is 0/0") }
        let kept = thresholds.indices.filter { index in
            guard index > 0, index < thresholds.count - 1 else { return true }
            let (before, point, after) = (thresholds[index - 1], thresholds[index], thresholds[index + 1])
            return after.falsePositives - 2 * point.falsePositives + before.falsePositives != 0
                || after.truePositives - 2 * point.truePositives + before.truePositives != 0
        }.map { thresholds[$0] }
        return ROCCurve(
            falsePositiveRates: [0] + kept.map { Double($0.falsePositives) / Double(negatives) },
            truePositiveRates: [0] + kept.map { Double($0.truePositives) / Double(positives) },
            thresholds: [.infinity] + kept.map(\.score))
    }

    /// Precision–recall points, as `sklearn.metrics.precision_recall_curve(labels, scores)`: one
    /// point per distinct score in ascending threshold order (recall falling), then a last point
    /// precision 1, recall 0 that has no threshold. Throws when no label is 1.
    public static func precisionRecallCurve(labels: [Int], scores: [Double]) throws -> PrecisionRecallCurve {
        let thresholds = try cumulativeCounts("precision-recall curve", labels, scores)
        let positives = try requirePositives("precision-recall curve", thresholds)
        let ascending = thresholds.reversed()
        return PrecisionRecallCurve(
            precisions: ascending.map { Double($0.truePositives) / Double($0.truePositives + $0.falsePositives) } + [1],
            recalls: ascending.map { Double($0.truePositives) / Double(positives) } + [0],
            thresholds: ascending.map(\.score))
    }

    /// For each distinct score, descending: the score and the positives and negatives scoring at
    /// least it. A group tying 0 and −0 reports +0 (`+ 0` maps −0 to +0), whichever comes first.
    static func cumulativeCounts(_ metric: String, _ labels: [Int], _ scores: [Double]) throws
        -> [(score: Double, truePositives: Int, falsePositives: Int)]
    {
        try requireRankingInput(metric, labels, scores)
        let order = labels.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var points: [(score: Double, truePositives: Int, falsePositives: Int)] = []
        var truePositives = 0
        var falsePositives = 0
        for (position, index) in order.enumerated() {
            if labels[index] == 1 { truePositives += 1 } else { falsePositives += 1 }
            if position == order.count - 1 || scores[order[position + 1]] != scores[index] {
                points.append((scores[index] + 0, truePositives, falsePositives))
            }
        }
        return points
    }

    static func requireRankingInput(_ metric: String, _ labels: [Int], _ scores: [Double]) throws {
        try requireMatchingCounts(metric, labels.count, scores.count)
        try requireBinary(metric, labels, "labels")
        try requireFinite(metric, scores, "scores")
    }

    static func requirePositives(_ metric: String, _ points: [(score: Double, truePositives: Int, falsePositives: Int)]) throws -> Int {
        let positives = points.last!.truePositives
        guard positives > 0 else { throw MetricError("\(metric): the labels hold no positives (class 1); recall is 0/0") }
        return positives
    }
}

/// ROC curve points (`Metric.rocCurve`); the three arrays have one entry per point.
public struct ROCCurve: Equatable, Sendable {
    public let falsePositiveRates: [Double]
    public let truePositiveRates: [Double]
    /// Descending; the first is +∞ (the point (0, 0)).
    public let thresholds: [Double]
}

/// Precision–recall curve points (`Metric.precisionRecallCurve`).
public struct PrecisionRecallCurve: Equatable, Sendable {
    /// One per threshold, then 1 for the closing point.
    public let precisions: [Double]
    /// One per threshold (falling), then 0 for the closing point.
    public let recalls: [Double]
    /// Ascending distinct scores; one fewer than the precisions and recalls.
    public let thresholds: [Double]
}
