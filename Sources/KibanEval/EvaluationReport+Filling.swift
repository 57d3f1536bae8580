/// Filling a report from `Predictions` with this module's metrics, `Bootstrap` and `McNemar`.
///
/// Nothing here throws: a metric, curve or test that cannot be computed (AUROC on one class, R² on
/// constant targets) is recorded as unavailable with its `MetricError`'s text, or left nil, so that
/// the report still shows everything else and says what is missing and why.
extension ModelReport {
    /// A model's report from its predictions on all examples.
    ///
    /// Each metric's estimate and percentile interval come from `Bootstrap.interval` on
    /// `predictions` (every metric with the same `seed`, hence the same resamples); with folds or
    /// seeds, pass the pooled predictions (out-of-fold predictions of all folds, say) as
    /// `predictions` and each fold's or seed's own as `splits`, whose metric values are listed
    /// beside the interval. Classification predictions add the confusion matrix and, with positive
    /// scores on 0/1 labels, the ROC and precision–recall curves; regression predictions add the
    /// parity data.
    public init(
        name: String, predictions: Predictions, metrics: [Metric], splits: [(name: String, predictions: Predictions)] = [],
        resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64
    ) {
        let results = metrics.map { metric in
            let splitValues = splits.map { SplitValue(name: $0.name, value: try? metric.value(of: $0.predictions)) }
            do {
                let interval = try Bootstrap.interval(
                    metric: metric, predictions: predictions, resamples: resamples, confidence: confidence, seed: seed)
                return MetricResult(metric: metric, interval: interval, splits: splitValues)
            } catch {
                return MetricResult(metric: metric, interval: nil, unavailable: "\(error)", splits: splitValues)
            }
        }
        self.init(name: name, exampleCount: predictions.count, metrics: results)
        switch predictions {
        case .classification(let labels, let predicted, let scores):
            classification = ClassificationDetails(labels: labels, predicted: predicted, positiveScores: scores)
        case .regression(let targets, let predicted):
            regression = RegressionDetails(targets: targets, predicted: predicted)
        case .languageModel:
            break
        }
    }
}

extension ClassificationDetails {
    /// The confusion matrix of `labels` and `predicted`, and with `positiveScores` on 0/1 labels the
    /// ROC curve (area AUROC), the precision–recall curve (area average precision) and the
    /// positive rate; each part is nil when it cannot be computed.
    public init(labels: [Int], predicted: [Int], positiveScores: [Double]?) {
        self.init(confusion: try? ConfusionMatrix(labels: labels, predicted: predicted))
        guard let scores = positiveScores else { return }
        if let curve = try? Metric.rocCurve(labels: labels, scores: scores), let area = try? Metric.auroc(labels: labels, scores: scores) {
            roc = Curve(curve, area: area)
        }
        if let curve = try? Metric.precisionRecallCurve(labels: labels, scores: scores),
            let area = try? Metric.averagePrecision(labels: labels, scores: scores)
        {
            precisionRecall = Curve(curve, area: area)
        }
        if !labels.isEmpty, labels.allSatisfy({ $0 == 0 || $0 == 1 }) {
            positiveRate = Double(labels.reduce(0, +)) / Double(labels.count)
        }
    }
}

extension ModelComparison {
    /// The paired comparison of two models' predictions on the same examples: for each metric the
    /// difference first − second with its paired percentile interval and p-value
    /// (`Bootstrap.pairedDifference`), and for classification with the same labels McNemar's exact
    /// test on per-example correctness.
    public init(
        first: String, firstPredictions: Predictions, second: String, secondPredictions: Predictions, metrics: [Metric],
        resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64
    ) {
        let differences = metrics.map { metric in
            do {
                let result = try Bootstrap.pairedDifference(
                    metric: metric, first: firstPredictions, second: secondPredictions, resamples: resamples,
                    confidence: confidence, seed: seed)
                return MetricDifference(metric: metric, result: result)
            } catch {
                return MetricDifference(metric: metric, result: nil, unavailable: "\(error)")
            }
        }
        self.init(first: first, second: second, differences: differences)
        if case .classification(let labels, let firstPredicted, _) = firstPredictions,
            case .classification(labels, let secondPredicted, _) = secondPredictions
        {
            mcNemar = try? McNemar.exactTest(
                firstCorrect: zip(labels, firstPredicted).map { $0 == $1 },
                secondCorrect: zip(labels, secondPredicted).map { $0 == $1 })
        }
    }
}
