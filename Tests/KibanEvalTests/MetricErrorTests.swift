import Testing

@testable import KibanEval

/// Degenerate inputs throw a `MetricError` that says what is wrong, never return NaN.
@Suite struct MetricErrorTests {
    /// The message `body` throws, or nil when it returns.
    func message(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch let error as MetricError {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    func expectMessage(_ fragment: String, _ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = message(body)
        #expect(text?.contains(fragment) == true, "expected '\(fragment)', got \(text ?? "no error")", sourceLocation: sourceLocation)
    }

    @Test func emptyAndMismatchedInputs() {
        expectMessage("accuracy: empty input") { try Metric.accuracy(labels: [], predicted: []) }
        expectMessage("mae: 3 targets but 2 predictions") { try Metric.meanAbsoluteError(targets: [1, 2, 3], predicted: [1, 2]) }
        expectMessage("auroc: 2 targets but 1 predictions") { try Metric.auroc(labels: [0, 1], scores: [0.5]) }
        expectMessage("confusion matrix: empty input") { try ConfusionMatrix(labels: [], predicted: []) }
        expectMessage("mcnemar: 1 targets but 2 predictions") { try McNemar.exactTest(firstCorrect: [true], secondCorrect: [true, false]) }
    }

    @Test func singleClassRankingInputs() {
        expectMessage("auroc: the labels hold a single class (3 positives, 0 negatives)") {
            try Metric.auroc(labels: [1, 1, 1], scores: [0.1, 0.2, 0.3])
        }
        expectMessage("auprc: the labels hold no positives") { try Metric.averagePrecision(labels: [0, 0], scores: [0.1, 0.2]) }
        expectMessage("roc curve: the labels hold no negatives") { try Metric.rocCurve(labels: [1, 1], scores: [0.1, 0.2]) }
        expectMessage("auroc: labels[1] is 2; binary labels must be 0 or 1") { try Metric.auroc(labels: [0, 2], scores: [0.1, 0.2]) }
        expectMessage("auroc: scores[1] is nan") { try Metric.auroc(labels: [0, 1], scores: [0.1, .nan]) }
    }

    @Test func zeroVarianceAndUndefinedRatios() {
        expectMessage("pearson: every second value is 2.0, zero variance") { try Metric.pearson([1, 2, 3], [2, 2, 2]) }
        expectMessage("spearman: every first value is 5.0, zero variance") { try Metric.spearman([5, 5], [1, 2]) }
        expectMessage("pearson: every first value is 1.0") { try Metric.pearson([1], [3]) }
        expectMessage("r2: every target value is 4.0, zero variance") { try Metric.coefficientOfDetermination(targets: [4, 4], predicted: [3, 5]) }
        expectMessage("f1: class 1 occurs in neither") { try Metric.f1(labels: [0, 0], predicted: [0, 0]) }
        expectMessage("f1: predictions[0] is 2") { try Metric.f1(labels: [0, 1], predicted: [2, 1]) }
        expectMessage("rmse: predictions[1] is inf") { try Metric.rootMeanSquaredError(targets: [1, 2], predicted: [1, .infinity]) }
        expectMessage("perplexity: 0 tokens") { try Metric.perplexity(negativeLogLikelihood: 1, tokenCount: 0) }
        expectMessage("perplexity: summed negative log-likelihood -1.0") { try Metric.perplexity(negativeLogLikelihood: -1, tokenCount: 3) }
    }

    @Test func metricNamesAndPredictionKinds() throws {
        for metric in Metric.allCases { #expect(try Metric(name: metric.name) == metric) }
        expectMessage("unknown metric 'auc'; known metrics: accuracy, balanced_accuracy, f1, mcc, auroc, auprc, mae, rmse, r2, pearson, spearman, perplexity") {
            try Metric(name: "auc")
        }
        let noScores = Predictions.classification(labels: [0, 1], predicted: [0, 1], positiveScores: nil)
        expectMessage("auroc needs positive-class scores") { try Metric.auroc.value(of: noScores) }
        expectMessage("rmse cannot be computed from classification predictions") { try Metric.rmse.value(of: noScores) }
        #expect(!Metric.perplexity.higherIsBetter && Metric.auprc.higherIsBetter)
    }

    @Test func bootstrapSettings() {
        let predictions = Predictions.regression(targets: [1, 2, 3], predicted: [1, 2, 4])
        expectMessage("bootstrap: confidence 1.0 is not in (0, 1)") {
            try Bootstrap.interval(metric: .mae, predictions: predictions, confidence: 1, seed: 0)
        }
        expectMessage("bootstrap: 0 resamples") { try Bootstrap.interval(metric: .mae, predictions: predictions, resamples: 0, seed: 0) }
        expectMessage("paired bootstrap: 3 examples for the first model but 1 for the second") {
            try Bootstrap.pairedDifference(
                metric: .mae, first: predictions, second: .regression(targets: [1], predicted: [1]), seed: 0)
        }
    }
}
