/// The metrics a task can name, under their configuration names (`Metric(name: "balanced_accuracy")`).
///
/// Each case is also the namespace of its formula: `Metric.accuracy(labels:predicted:)`,
/// `Metric.auroc(labels:scores:)`, … (in `Metric+Classification.swift`, `Metric+Ranking.swift`,
/// `Metric+Regression.swift`, `Metric+LanguageModel.swift`). `value(of:)` evaluates a case on a
/// set of `Predictions`.
public enum Metric: String, CaseIterable, Sendable {
    case accuracy
    case balancedAccuracy = "balanced_accuracy"
    case f1
    case mcc
    case auroc
    case auprc
    case mae
    case rmse
    case r2
    case pearson
    case spearman
    case perplexity

    /// The metric with configuration name `name`; throws a `MetricError` listing the known names.
    public init(name: String) throws {
        guard let metric = Metric(rawValue: name) else {
            let known = Metric.allCases.map(\.rawValue).joined(separator: ", ")
            throw MetricError("unknown metric '\(name)'; known metrics: \(known)")
        }
        self = metric
    }

    /// The configuration name, as a task file writes it.
    public var name: String { rawValue }

    /// Whether a larger value is better (false for `mae`, `rmse` and `perplexity`).
    public var higherIsBetter: Bool {
        switch self {
        case .mae, .rmse, .perplexity: false
        default: true
        }
    }
}
