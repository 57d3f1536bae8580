import Foundation

@testable import KibanEval

/// Seeded synthetic evaluations shaped like real ones, for the report tests and for the sample
/// pages CI renders: a binary classification task with 493 test examples and two models, and a
/// 5-fold cross-validated regression with 900 examples and two models. The data are drawn here
/// (the titles say "synthetic"); every number in the reports is computed from them by KibanEval.
enum SampleReports {
    /// A standard normal draw (Box–Muller) from `generator`.
    static func normal(_ generator: inout SplitMix64) -> Double {
        let u = 1 - generator.unitInterval()
        let v = generator.unitInterval()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    static let provenance = [
        ProvenanceEntry(key: "checkpoint SHA-256", value: "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"),
        ProvenanceEntry(key: "task file SHA-256", value: "3b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"),
        ProvenanceEntry(key: "data SHA-256 (test.csv)", value: "c0ffee00deadbeef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ProvenanceEntry(key: "Kiban version", value: "0.1.0 (synthetic sample, not a real evaluation)"),
        ProvenanceEntry(key: "git commit", value: "8160014"),
        ProvenanceEntry(key: "date", value: "2025-01-01T00:00:00Z"),
        ProvenanceEntry(key: "bootstrap", value: "1000 percentile resamples, seed 42, 95 %"),
    ]

    static let classificationMetrics: [Metric] = [.accuracy, .balancedAccuracy, .f1, .mcc, .auroc, .auprc]
    static let regressionMetrics: [Metric] = [.mae, .rmse, .r2, .pearson, .spearman]

    /// 493 examples, about 38 % positive; two models whose scores separate the classes by
    /// different margins (logistic of a shifted normal), class 1 predicted from score ≥ 0.5.
    static func makeClassificationPredictions() -> (labels: [Int], models: [(name: String, predictions: Predictions)]) {
        var generator = SplitMix64(seed: 2025)
        let labels = (0..<493).map { _ in generator.unitInterval() < 0.38 ? 1 : 0 }
        func model(separation: Double, bias: Double) -> Predictions {
            let scores = labels.map { label in
                1 / (1 + exp(-(separation * (Double(label) - 0.5) + bias + normal(&generator))))
            }
            return .classification(labels: labels, predicted: scores.map { $0 >= 0.5 ? 1 : 0 }, positiveScores: scores)
        }
        return (
            labels,
            [
                (name: "esm2-8m + LoRA <r=8> & head", predictions: model(separation: 3.2, bias: -0.3)),
                (name: "one-hot \"baseline\" (logistic)", predictions: model(separation: 2.3, bias: -0.2)),
            ]
        )
    }

    /// The sample called `name`: "classification" or "regression".
    static func named(_ name: String) -> EvaluationReport {
        name == "classification" ? classification : regression
    }

    /// Each sample is computed once per test run (the bootstraps take a few seconds).
    static let classification = makeClassification()
    static let regression = makeRegression()
    static let classificationPredictions = makeClassificationPredictions()
    static let regressionPredictions = makeRegressionPredictions()

    static func makeClassification() -> EvaluationReport {
        let models = classificationPredictions.models
        let reports = models.map {
            ModelReport(name: $0.name, predictions: $0.predictions, metrics: classificationMetrics, seed: 42)
        }
        let comparison = ModelComparison(
            first: models[0].name, firstPredictions: models[0].predictions, second: models[1].name,
            secondPredictions: models[1].predictions, metrics: classificationMetrics, seed: 42)
        return EvaluationReport(
            title: "Binding (synthetic sample): test split, 493 examples", provenance: provenance, models: reports,
            comparisons: [comparison])
    }

    /// 900 examples in 5 folds (example i in fold i mod 5); targets like a log-solubility (mean −3,
    /// SD 2), predictions shrunk toward the mean with noise.
    static func makeRegressionPredictions() -> [(name: String, pooled: Predictions, folds: [(name: String, predictions: Predictions)])] {
        var generator = SplitMix64(seed: 7)
        let targets = (0..<900).map { _ in -3 + 2 * normal(&generator) }
        func model(shrink: Double, noise: Double) -> (Predictions, [(name: String, predictions: Predictions)]) {
            let predicted = targets.map { -3 + shrink * ($0 + 3) + noise * normal(&generator) }
            let folds = (0..<5).map { fold in
                let indices = targets.indices.filter { $0 % 5 == fold }
                return (
                    name: "fold \(fold + 1)",
                    predictions: Predictions.regression(targets: indices.map { targets[$0] }, predicted: indices.map { predicted[$0] })
                )
            }
            return (.regression(targets: targets, predicted: predicted), folds)
        }
        let lora = model(shrink: 0.88, noise: 0.75)
        let ridge = model(shrink: 0.7, noise: 1.15)
        return [
            (name: "esm2-8m + LoRA", pooled: lora.0, folds: lora.1),
            (name: "ridge on composition", pooled: ridge.0, folds: ridge.1),
        ]
    }

    static func makeRegression() -> EvaluationReport {
        let models = regressionPredictions
        let reports = models.map {
            ModelReport(name: $0.name, predictions: $0.pooled, metrics: regressionMetrics, splits: $0.folds, seed: 42)
        }
        let comparison = ModelComparison(
            first: models[0].name, firstPredictions: models[0].pooled, second: models[1].name, secondPredictions: models[1].pooled,
            metrics: regressionMetrics, seed: 42)
        return EvaluationReport(
            title: "Solubility (synthetic sample): 5-fold cross-validation, 900 examples", provenance: provenance, models: reports,
            comparisons: [comparison])
    }
}
