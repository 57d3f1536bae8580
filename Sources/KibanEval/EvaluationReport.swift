/// What `kiban eval` found, in a form that is saved as JSON (`Codable`) and rendered as one
/// self-contained HTML page (`html()`, in `EvaluationReport+HTML.swift`).
///
/// A report holds where the numbers come from (`provenance`), one entry per evaluated model
/// (`models`: metric values with their bootstrap intervals, per-fold or per-seed values, curves,
/// confusion matrix or parity data) and paired comparisons between models (`comparisons`). Every
/// part can be filled by hand; `ModelReport(name:predictions:metrics:...)` and
/// `ModelComparison(first:second:...)` fill them from `Predictions` with this module's metrics,
/// `Bootstrap` and `McNemar`.
public struct EvaluationReport: Codable, Equatable, Sendable {
    public var title: String
    /// Where the numbers come from, in display order: checkpoint and data hashes, task file, Kiban
    /// version, git commit, date, bootstrap settings.
    public var provenance: [ProvenanceEntry]
    public var models: [ModelReport]
    public var comparisons: [ModelComparison]

    public init(title: String, provenance: [ProvenanceEntry] = [], models: [ModelReport], comparisons: [ModelComparison] = []) {
        self.title = title
        self.provenance = provenance
        self.models = models
        self.comparisons = comparisons
    }
}

/// One key/value row of a report's provenance, e.g. ("checkpoint SHA-256", "9f2c…").
public struct ProvenanceEntry: Codable, Equatable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// One model's results on the task's examples.
public struct ModelReport: Codable, Equatable, Sendable {
    public var name: String
    /// Examples the metrics were computed on (all folds together for cross-validation).
    public var exampleCount: Int
    public var metrics: [MetricResult]
    /// Curves and confusion matrix; nil for regression and language-model tasks.
    public var classification: ClassificationDetails?
    /// (target, prediction) pairs for the parity plot; nil for other tasks.
    public var regression: RegressionDetails?

    public init(
        name: String, exampleCount: Int, metrics: [MetricResult], classification: ClassificationDetails? = nil,
        regression: RegressionDetails? = nil
    ) {
        self.name = name
        self.exampleCount = exampleCount
        self.metrics = metrics
        self.classification = classification
        self.regression = regression
    }
}

/// One metric of one model: its estimate with a bootstrap interval, or why it has none, and its
/// value on each fold or seed when the protocol has them.
public struct MetricResult: Codable, Equatable, Sendable {
    public var metric: Metric
    /// The estimate on all examples and its interval; nil when the metric could not be computed.
    public var interval: BootstrapInterval?
    /// Why `interval` is nil (the `MetricError`'s text), nil when there is a value.
    public var unavailable: String?
    /// The metric on each fold or seed, in protocol order; empty without folds or seeds.
    public var splits: [SplitValue]

    public init(metric: Metric, interval: BootstrapInterval?, unavailable: String? = nil, splits: [SplitValue] = []) {
        self.metric = metric
        self.interval = interval
        self.unavailable = unavailable
        self.splits = splits
    }
}

/// A metric's value on one fold or seed ("fold 3", "seed 17"); nil when it could not be computed
/// on that split.
public struct SplitValue: Codable, Equatable, Sendable {
    public var name: String
    public var value: Double?

    public init(name: String, value: Double?) {
        self.name = name
        self.value = value
    }
}

/// The classification parts of a model's report: ROC and precision–recall curves (binary tasks
/// with scores) and the confusion matrix.
public struct ClassificationDetails: Codable, Equatable, Sendable {
    /// False-positive rate (x) against true-positive rate (y); area = AUROC.
    public var roc: Curve?
    /// Recall (x) against precision (y), in `Metric.precisionRecallCurve` order; area = average precision.
    public var precisionRecall: Curve?
    /// Share of examples whose label is 1: the precision of a random classifier, the PR baseline.
    public var positiveRate: Double?
    public var confusion: ConfusionMatrix?

    public init(roc: Curve? = nil, precisionRecall: Curve? = nil, positiveRate: Double? = nil, confusion: ConfusionMatrix? = nil) {
        self.roc = roc
        self.precisionRecall = precisionRecall
        self.positiveRate = positiveRate
        self.confusion = confusion
    }
}

/// The points of a curve in order (x[i], y[i]) and the area under it shown in the legend.
public struct Curve: Codable, Equatable, Sendable {
    public var x: [Double]
    public var y: [Double]
    public var area: Double

    public init(x: [Double], y: [Double], area: Double) {
        self.x = x
        self.y = y
        self.area = area
    }

    /// The ROC points with `area` = AUROC (thresholds are not kept: the first is +∞, which JSON cannot hold).
    public init(_ curve: ROCCurve, area: Double) {
        self.init(x: curve.falsePositiveRates, y: curve.truePositiveRates, area: area)
    }

    /// The precision–recall points with `area` = average precision.
    public init(_ curve: PrecisionRecallCurve, area: Double) {
        self.init(x: curve.recalls, y: curve.precisions, area: area)
    }
}

/// A regression model's targets and predictions, example i at position i of both.
public struct RegressionDetails: Codable, Equatable, Sendable {
    public var targets: [Double]
    public var predicted: [Double]

    public init(targets: [Double], predicted: [Double]) {
        self.targets = targets
        self.predicted = predicted
    }
}

/// A paired comparison of two models on the same examples: metric differences first − second with
/// their paired bootstrap intervals and p-values, and McNemar's exact test for classification.
public struct ModelComparison: Codable, Equatable, Sendable {
    public var first: String
    public var second: String
    public var differences: [MetricDifference]
    public var mcNemar: McNemarResult?

    public init(first: String, second: String, differences: [MetricDifference], mcNemar: McNemarResult? = nil) {
        self.first = first
        self.second = second
        self.differences = differences
        self.mcNemar = mcNemar
    }
}

/// metric(first) − metric(second) with its paired bootstrap interval and p-value, or why it has none.
public struct MetricDifference: Codable, Equatable, Sendable {
    public var metric: Metric
    public var result: PairedBootstrapResult?
    public var unavailable: String?

    public init(metric: Metric, result: PairedBootstrapResult?, unavailable: String? = nil) {
        self.metric = metric
        self.result = result
        self.unavailable = unavailable
    }
}

extension Metric: Codable {}
