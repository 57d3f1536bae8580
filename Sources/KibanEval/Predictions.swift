/// One model's outputs on a set of examples, with the targets, in the form a `Metric` reads.
/// Example i is position i of every array.
public enum Predictions: Sendable {
    /// Class labels and predicted classes; `positiveScores` (the score of class 1, any monotone
    /// scale) for binary AUROC/AUPRC, nil when the model gives none.
    case classification(labels: [Int], predicted: [Int], positiveScores: [Double]?)
    /// Regression targets and predictions.
    case regression(targets: [Double], predicted: [Double])
    /// Per example, the summed negative log-likelihood (nats) of its tokens and how many tokens.
    case languageModel(negativeLogLikelihoods: [Double], tokenCounts: [Int])

    /// The number of examples (of the first array; the metrics check that the others agree).
    public var count: Int {
        switch self {
        case .classification(let labels, _, _): labels.count
        case .regression(let targets, _): targets.count
        case .languageModel(let negativeLogLikelihoods, _): negativeLogLikelihoods.count
        }
    }

    /// The examples at `indices`, in that order and with repeats (a bootstrap resample).
    public func examples(at indices: [Int]) -> Predictions {
        switch self {
        case .classification(let labels, let predicted, let scores):
            .classification(
                labels: indices.map { labels[$0] }, predicted: indices.map { predicted[$0] },
                positiveScores: scores.map { scores in indices.map { scores[$0] } })
        case .regression(let targets, let predicted):
            .regression(targets: indices.map { targets[$0] }, predicted: indices.map { predicted[$0] })
        case .languageModel(let negativeLogLikelihoods, let tokenCounts):
            .languageModel(
                negativeLogLikelihoods: indices.map { negativeLogLikelihoods[$0] }, tokenCounts: indices.map { tokenCounts[$0] })
        }
    }
}

extension Metric {
    /// This metric on `predictions`. `f1` is binary F1 of class 1 when every label and prediction
    /// is 0 or 1, macro F1 otherwise; `auroc` and `auprc` need `positiveScores`; `perplexity` is
    /// exp(Σ NLL / Σ tokens) over the examples. Throws a `MetricError` when the kind of predictions
    /// does not fit the metric or the metric's own checks fail.
    public func value(of predictions: Predictions) throws -> Double {
        switch (self, predictions) {
        case (.accuracy, .classification(let labels, let predicted, _)):
            return try Metric.accuracy(labels: labels, predicted: predicted)
        case (.balancedAccuracy, .classification(let labels, let predicted, _)):
            return try Metric.balancedAccuracy(labels: labels, predicted: predicted)
        case (.f1, .classification(let labels, let predicted, _)):
            let binary = (labels + predicted).allSatisfy { $0 == 0 || $0 == 1 }
            return try binary ? Metric.f1(labels: labels, predicted: predicted) : Metric.macroF1(labels: labels, predicted: predicted)
        case (.mcc, .classification(let labels, let predicted, _)):
            return try Metric.matthewsCorrelation(labels: labels, predicted: predicted)
        case (.auroc, .classification(let labels, _, let scores?)):
            return try Metric.auroc(labels: labels, scores: scores)
        case (.auprc, .classification(let labels, _, let scores?)):
            return try Metric.averagePrecision(labels: labels, scores: scores)
        case (.mae, .regression(let targets, let predicted)):
            return try Metric.meanAbsoluteError(targets: targets, predicted: predicted)
        case (.rmse, .regression(let targets, let predicted)):
            return try Metric.rootMeanSquaredError(targets: targets, predicted: predicted)
        case (.r2, .regression(let targets, let predicted)):
            return try Metric.coefficientOfDetermination(targets: targets, predicted: predicted)
        case (.pearson, .regression(let targets, let predicted)):
            return try Metric.pearson(targets, predicted)
        case (.spearman, .regression(let targets, let predicted)):
            return try Metric.spearman(targets, predicted)
        case (.perplexity, .languageModel(let negativeLogLikelihoods, let tokenCounts)):
            try Metric.requireMatchingCounts("perplexity", negativeLogLikelihoods.count, tokenCounts.count)
            return try Metric.perplexity(
                negativeLogLikelihood: orderIndependentSum(negativeLogLikelihoods), tokenCount: tokenCounts.reduce(0, +))
        case (.auroc, .classification), (.auprc, .classification):
            throw MetricError("\(name) needs positive-class scores; these classification predictions have none")
        default:
            throw MetricError("\(name) cannot be computed from \(predictions.kind) predictions")
        }
    }
}

extension Predictions {
    var kind: String {
        switch self {
        case .classification: "classification"
        case .regression: "regression"
        case .languageModel: "language-model"
        }
    }
}
