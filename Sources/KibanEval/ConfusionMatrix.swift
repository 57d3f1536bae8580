/// Counts of (true class, predicted class) pairs, as `sklearn.metrics.confusion_matrix`.
///
/// `classes` is the sorted union of the labels and predictions; `counts[i][j]` is the number of
/// examples whose label is `classes[i]` and whose prediction is `classes[j]` (rows are truth).
public struct ConfusionMatrix: Codable, Equatable, Sendable {
    public let classes: [Int]
    public let counts: [[Int]]

    /// Throws a `MetricError` for empty or mismatched inputs.
    public init(labels: [Int], predicted: [Int]) throws {
        try Metric.requireMatchingCounts("confusion matrix", labels.count, predicted.count)
        classes = Set(labels + predicted).sorted()
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var counts = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
        for (label, prediction) in zip(labels, predicted) {
            counts[position[label]!][position[prediction]!] += 1
        }
        self.counts = counts
    }

    /// Examples of `classes[index]` predicted as it (the diagonal entry).
    public func truePositives(_ index: Int) -> Int { counts[index][index] }

    /// Examples whose label is `classes[index]` (row sum).
    public func labelCount(_ index: Int) -> Int { counts[index].reduce(0, +) }

    /// Examples predicted as `classes[index]` (column sum).
    public func predictionCount(_ index: Int) -> Int { counts.reduce(0) { $0 + $1[index] } }
}
