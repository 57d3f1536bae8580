import Foundation
import FoundationXML
import Testing

@testable import KibanEval

/// Reports on inputs where metrics, curves or axes break down still render: well-formed, with no
/// NaN or ∞ on the page, every coordinate inside its SVG, and the reason for each missing value shown.
@Suite struct ReportDegenerateTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let report: EvaluationReport
        /// Metrics that must be shown as unavailable, with their reason.
        let unavailable: [Metric]
        var testDescription: String { name }
    }

    static func model(_ predictions: Predictions, metrics: [Metric], splits: [(name: String, predictions: Predictions)] = []) -> ModelReport {
        ModelReport(name: "model", predictions: predictions, metrics: metrics, splits: splits, resamples: 100, seed: 1)
    }

    static let classificationMetrics: [Metric] = [.accuracy, .balancedAccuracy, .f1, .mcc, .auroc, .auprc]
    static let regressionMetrics: [Metric] = [.mae, .rmse, .r2, .pearson, .spearman]

    static let cases: [Case] = {
        let onlyPositives = Predictions.classification(labels: [1, 1, 1, 1], predicted: [1, 0, 1, 1], positiveScores: [0.9, 0.2, 0.7, 0.7])
        let onlyNegatives = Predictions.classification(labels: [0, 0, 0], predicted: [0, 0, 1], positiveScores: [0.1, 0.3, 0.6])
        let single = Predictions.classification(labels: [1], predicted: [1], positiveScores: [0.8])
        let equalScores = Predictions.classification(labels: [0, 1, 0, 1, 1], predicted: [0, 0, 0, 0, 0], positiveScores: [0.5, 0.5, 0.5, 0.5, 0.5])
        let onePoint = Predictions.regression(targets: [2.5], predicted: [2.0])
        let constantPredictions = Predictions.regression(targets: [1, 2, 3, 4, 5], predicted: [3, 3, 3, 3, 3])
        let allEqual = Predictions.regression(targets: [7, 7, 7], predicted: [7, 7, 7])
        let empty = Predictions.regression(targets: [], predicted: [])
        let emptyClassification = Predictions.classification(labels: [], predicted: [], positiveScores: [])
        let nonFinite = ModelReport(
            name: "hand-filled", exampleCount: 3,
            metrics: [
                MetricResult(metric: .mae, interval: BootstrapInterval(estimate: .nan, lower: -.infinity, upper: .infinity, confidence: 0.95)),
                MetricResult(metric: .r2, interval: nil, splits: [SplitValue(name: "seed 1", value: .nan), SplitValue(name: "seed 2", value: nil)]),
            ],
            classification: ClassificationDetails(
                roc: Curve(x: [0, .nan, 1], y: [0, 0.5, .infinity], area: .nan), precisionRecall: Curve(x: [], y: [], area: 1),
                positiveRate: .nan, confusion: try! ConfusionMatrix(labels: [0, 1], predicted: [1, 1])),
            regression: RegressionDetails(targets: [1, .nan, 3], predicted: [.infinity, 2, 3]))
        return [
            Case(
                name: "labels all 1", report: EvaluationReport(title: "one class", models: [model(onlyPositives, metrics: classificationMetrics)]),
                unavailable: [.auroc]),
            Case(
                name: "labels all 0",
                report: EvaluationReport(title: "no positives", models: [model(onlyNegatives, metrics: classificationMetrics)]),
                unavailable: [.auroc, .auprc]),
            Case(
                name: "a single example",
                report: EvaluationReport(
                    title: "one example", models: [model(single, metrics: classificationMetrics)],
                    comparisons: [
                        ModelComparison(
                            first: "a", firstPredictions: single, second: "b", secondPredictions: single, metrics: [.accuracy, .auroc],
                            resamples: 100, seed: 1)
                    ]),
                unavailable: [.auroc]),
            Case(
                name: "all scores equal, one class predicted",
                report: EvaluationReport(title: "ties", models: [model(equalScores, metrics: classificationMetrics)]), unavailable: []),
            Case(
                name: "a single regression point",
                report: EvaluationReport(title: "one point", models: [model(onePoint, metrics: regressionMetrics, splits: [(name: "fold 1", predictions: onePoint)])]),
                unavailable: [.r2, .pearson, .spearman]),
            Case(
                name: "constant predictions",
                report: EvaluationReport(
                    title: "constant", models: [model(constantPredictions, metrics: regressionMetrics, splits: [(name: "fold 1", predictions: constantPredictions)])]),
                unavailable: [.pearson, .spearman]),
            Case(
                name: "targets and predictions all equal",
                report: EvaluationReport(title: "all 7", models: [model(allEqual, metrics: regressionMetrics)]), unavailable: [.r2, .pearson, .spearman]),
            Case(
                name: "no examples",
                report: EvaluationReport(
                    title: "empty", models: [model(empty, metrics: regressionMetrics), model(emptyClassification, metrics: classificationMetrics)],
                    comparisons: [
                        ModelComparison(
                            first: "a", firstPredictions: emptyClassification, second: "b", secondPredictions: emptyClassification,
                            metrics: [.accuracy], resamples: 100, seed: 1)
                    ]),
                unavailable: regressionMetrics + classificationMetrics),
            Case(name: "non-finite values filled by hand", report: EvaluationReport(title: "hand-filled values", models: [nonFinite]), unavailable: [.r2]),
            Case(name: "nothing at all", report: EvaluationReport(title: "nothing", models: []), unavailable: []),
            Case(
                name: "three classes, no scores",
                report: EvaluationReport(
                    title: "three classes",
                    models: [
                        model(
                            .classification(labels: [0, 1, 2, 2, 1, 0, 2], predicted: [0, 2, 2, 2, 1, 1, 0], positiveScores: nil),
                            metrics: [.accuracy, .balancedAccuracy, .f1, .mcc, .auroc])
                    ]),
                unavailable: [.auroc]),
            Case(
                name: "a language model",
                report: EvaluationReport(
                    title: "perplexity",
                    models: [model(.languageModel(negativeLogLikelihoods: [12, 30, 7], tokenCounts: [5, 11, 3]), metrics: [.perplexity, .mae])]),
                unavailable: [.mae]),
        ]
    }()

    @Test(arguments: cases)
    func rendersWithoutNonFiniteNumbers(_ testCase: Case) throws {
        let inspection = try ReportInspection(testCase.report)
        #expect(inspection.nonFiniteWords == [])
        for svg in try inspection.elements("svg") {
            let problems = try coordinateProblems(in: svg, inspection: inspection)
            #expect(problems.isEmpty, "\(problems.prefix(5))")
        }
        let unavailableCells = try inspection.elements("td", classed: "unavailable")
        let reasons = try unavailableCells.map { try inspection.elements("div", classed: "reason", in: $0).first?.stringValue ?? "" }
        #expect(unavailableCells.count == testCase.unavailable.count, "\(reasons)")
        for (metric, reason) in zip(testCase.unavailable, reasons) {
            let named = reason.hasPrefix(metric.name + ":") || reason.hasPrefix(metric.name + " ") || reason == "bootstrap: empty input" || reason == "not computed"
            #expect(named, "\(metric): \(reason)")
        }
    }

    @Test func threeClassesGiveAThreeByThreeGridAndNoCurves() throws {
        let inspection = try ReportInspection(Self.cases[10].report)
        #expect(try inspection.elements("svg").count == 1)
        let counts = try inspection.elements("text", classed: "count").map { Int($0.stringValue ?? "") }
        #expect(counts == [1, 1, 0, 0, 1, 1, 1, 0, 2], "rows: true 0, 1, 2")
    }

    @Test func oneClassDrawsOnlyTheCurveThatExists() throws {
        let report = Self.cases[0].report
        #expect(report.models[0].classification?.roc == nil && report.models[0].classification?.precisionRecall != nil)
        let inspection = try ReportInspection(report)
        #expect(try inspection.svg(titled: "ROC curve") == nil && inspection.svg(titled: "Precision–recall curve") != nil)
        let legend = try inspection.elements("text", classed: "legend").compactMap(\.stringValue)
        #expect(legend == ["model — AP 1.000", "chance (positive rate 1.000)"])
    }

    @Test func hiddenValuesAreDashes() throws {
        let inspection = try ReportInspection(Self.cases[8].report)
        let mae = try #require(try inspection.elements("tr").first { $0.value("data-metric") == "mae" })
        #expect(try inspection.elements("span", in: mae).compactMap(\.stringValue) == ["—", "[—, —]", "—", "—"])
        #expect(try inspection.elements("text", classed: "caption").first?.stringValue == "1 point, opacity 0.75; 2 non-finite left out")
        #expect(try inspection.elements("table", classed: "splits").first.map { try inspection.elements("td", in: $0).compactMap(\.stringValue) }
            == ["seed 1", "—", "seed 2", "—", "mean", "—", "SD", "—"])
    }

    @Test func numbersAreWrittenWithoutMinusZeroOrExcessDigits() {
        #expect(NumberText.format(-0.0001, .fixed(3)) == "0.000")
        #expect(NumberText.format(-0.0, .fixed(1)) == "0.0")
        #expect(NumberText.signed(0.0341, .fixed(3)) == "+0.034" && NumberText.signed(0, .fixed(3)) == "0.000")
        #expect(NumberText.signed(0.0003, .fixed(3)) == "+0.0003" && NumberText.signed(-2.1e-8, .fixed(3)) == "-2.1e-08", "the sign stays visible")
        #expect(NumberText.style(for: .mae, values: [0.4312, 0.05]) == .fixed(4))
        #expect(NumberText.style(for: .rmse, values: [12.34]) == .fixed(2))
        #expect(NumberText.style(for: .perplexity, values: [1234.5]) == .fixed(0))
        #expect(NumberText.style(for: .mae, values: [2e-5]) == .scientific(3) && NumberText.style(for: .auroc, values: [2e-5]) == .fixed(3))
        #expect(NumberText.pValue(0.372) == "0.37" && NumberText.pValue(0.0123) == "0.012" && NumberText.pValue(3.14e-12) == "3.1e-12")
        #expect(NumberText.pValue(.nan) == "—" && NumberText.format(.infinity, .fixed(2)) == "—")
    }
}
