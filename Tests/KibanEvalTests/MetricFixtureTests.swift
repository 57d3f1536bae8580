import Testing

@testable import KibanEval

/// Every metric against the scikit-learn / scipy values in `Tests/Fixtures/metrics.json`, within
/// 1e-12 relative (exact for a zero reference, `relativeError`). Prints the worst error per metric.
@Suite("Metrics against scikit-learn and scipy")
struct MetricFixtureTests {
    static let tolerance = 1e-12
    let fixture: MetricFixture

    init() throws { fixture = try MetricFixture.load() }

    /// Records the worst error per metric name and checks each case.
    final class WorstErrors {
        var errors: [String: Double] = [:]

        func check(_ metric: String, _ caseName: String, _ error: Double) {
            errors[metric] = max(errors[metric] ?? 0, error)
            #expect(error <= MetricFixtureTests.tolerance, "\(metric) on \(caseName): relative error \(error)")
        }

        func report(_ suite: String) {
            print("\(suite) worst relative errors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }

    @Test func classification() throws {
        let worst = WorstErrors()
        for item in fixture.classification {
            let (labels, predicted) = (item.labels, item.predicted)
            worst.check("accuracy", item.name, relativeError(try Metric.accuracy(labels: labels, predicted: predicted), item.accuracy))
            worst.check(
                "balanced_accuracy", item.name,
                relativeError(try Metric.balancedAccuracy(labels: labels, predicted: predicted), item.balancedAccuracy))
            worst.check("macro_f1", item.name, relativeError(try Metric.macroF1(labels: labels, predicted: predicted), item.macroF1))
            worst.check("mcc", item.name, relativeError(try Metric.matthewsCorrelation(labels: labels, predicted: predicted), item.mcc))
            if let f1 = item.f1 {
                worst.check("f1", item.name, relativeError(try Metric.f1(labels: labels, predicted: predicted), f1))
            }
            #expect(try ConfusionMatrix(labels: labels, predicted: predicted).counts == item.confusionMatrix, "\(item.name)")
        }
        #expect(fixture.classification.count >= 5)
        worst.report("classification")
    }

    @Test func ranking() throws {
        let worst = WorstErrors()
        for item in fixture.ranking {
            let (labels, scores) = (item.labels, item.scores)
            worst.check("auroc", item.name, relativeError(try Metric.auroc(labels: labels, scores: scores), item.auroc))
            worst.check("auprc", item.name, relativeError(try Metric.averagePrecision(labels: labels, scores: scores), item.auprc))
            let roc = try Metric.rocCurve(labels: labels, scores: scores)
            worst.check("roc_curve", item.name, relativeError(roc.falsePositiveRates, item.rocFalsePositiveRates))
            worst.check("roc_curve", item.name, relativeError(roc.truePositiveRates, item.rocTruePositiveRates))
            #expect(roc.thresholds.first == .infinity)
            #expect(Array(roc.thresholds.dropFirst()) == item.rocFiniteThresholds, "\(item.name)")
            let pr = try Metric.precisionRecallCurve(labels: labels, scores: scores)
            worst.check("precision_recall_curve", item.name, relativeError(pr.precisions, item.prPrecisions))
            worst.check("precision_recall_curve", item.name, relativeError(pr.recalls, item.prRecalls))
            #expect(pr.thresholds == item.prThresholds, "\(item.name)")
        }
        worst.report("ranking")
    }

    @Test func regression() throws {
        let worst = WorstErrors()
        for item in fixture.regression {
            let (targets, predicted) = (item.targets, item.predicted)
            worst.check("mae", item.name, relativeError(try Metric.meanAbsoluteError(targets: targets, predicted: predicted), item.mae))
            worst.check("rmse", item.name, relativeError(try Metric.rootMeanSquaredError(targets: targets, predicted: predicted), item.rmse))
            worst.check("r2", item.name, relativeError(try Metric.coefficientOfDetermination(targets: targets, predicted: predicted), item.r2))
            worst.check("pearson", item.name, relativeError(try Metric.pearson(targets, predicted), item.pearson))
            worst.check("spearman", item.name, relativeError(try Metric.spearman(targets, predicted), item.spearman))
        }
        worst.report("regression")
    }

    @Test func perplexityAndMcNemar() throws {
        let worst = WorstErrors()
        for item in fixture.perplexity {
            let value = try Metric.perplexity(negativeLogLikelihood: item.negativeLogLikelihood, tokenCount: item.tokenCount)
            worst.check("perplexity", "\(item.tokenCount) tokens", relativeError(value, item.perplexity))
        }
        for item in fixture.mcnemar {
            let value = McNemar.exactPValue(firstOnlyCorrect: item.firstOnlyCorrect, secondOnlyCorrect: item.secondOnlyCorrect)
            worst.check("mcnemar", "b \(item.firstOnlyCorrect), c \(item.secondOnlyCorrect)", relativeError(value, item.pValue))
        }
        worst.report("perplexity and mcnemar")
    }
}
