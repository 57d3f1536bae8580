import Foundation
import FoundationXML
import Testing

@testable import KibanEval

/// The HTML page: well-formed, self-contained, escaped, and showing the report's own numbers.
@Suite struct ReportHTMLTests {
    static let classification = SampleReports.classification
    static let regression = SampleReports.regression

    @Test func samplePagesAreWellFormedXMLWithInlineSVG() throws {
        let classification = try ReportInspection(Self.classification)
        let svgs = try classification.elements("svg")
        #expect(svgs.count == 4, "ROC, PR and two confusion matrices")
        #expect(svgs.allSatisfy { $0.uri == SVG.namespace })
        #expect(try classification.svg(titled: "ROC curve") != nil && classification.svg(titled: "Precision–recall curve") != nil)
        let regression = try ReportInspection(Self.regression)
        #expect(try regression.elements("svg").count == 2 + 2 * 5, "two parity plots, five metric charts per model")
        #expect(try regression.elements("section").compactMap { $0.value("id") } == ["provenance", "metrics", "comparisons", "parity", "splits"])
        #expect(try classification.elements("section").compactMap { $0.value("id") } == ["provenance", "metrics", "comparisons", "curves", "confusion"])
        for svg in svgs {
            #expect(try XMLDocument(xmlString: svg.xmlString, options: []).rootElement()?.localName == "svg")
        }
    }

    @Test(arguments: ["classification", "regression"])
    func pagesFetchNothing(sample: String) {
        let report = SampleReports.named(sample)
        let html = report.html()
        let withoutNamespace = html.replacingOccurrences(of: "xmlns=\"\(SVG.namespace)\"", with: "")
        for forbidden in ["http", "url(", "src=", "href", "<script", "<link", "@import", "<img", "<iframe", "<object"] {
            #expect(!withoutNamespace.lowercased().contains(forbidden), "found \(forbidden)")
        }
        #expect(html.contains("xmlns=\"\(SVG.namespace)\""))
    }

    @Test func textFromTheReportStaysEscaped() throws {
        let hostile = "<script>alert(\"x&y\")</script> 'quoted' &amp;"
        let predictions = Predictions.classification(labels: [0, 1, 1, 0], predicted: [0, 1, 0, 0], positiveScores: [0.1, 0.9, 0.4, 0.3])
        let model = ModelReport(
            name: hostile, predictions: predictions, metrics: [.accuracy, .auroc], splits: [(name: hostile, predictions: predictions)],
            resamples: 50, seed: 1)
        let comparison = ModelComparison(
            first: hostile, firstPredictions: predictions, second: "b<c", secondPredictions: predictions, metrics: [.accuracy],
            resamples: 50, seed: 1)
        let report = EvaluationReport(
            title: hostile, provenance: [ProvenanceEntry(key: hostile, value: "a\"b<c>&d")], models: [model], comparisons: [comparison])
        let inspection = try ReportInspection(report)
        #expect(!inspection.html.contains("<script"))
        #expect(inspection.html.contains("&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &#39;quoted&#39; &amp;amp;"))
        #expect(try inspection.elements("h1").first?.stringValue == hostile)
        #expect(try inspection.elements("title").first?.stringValue == hostile)
        let provenance = try inspection.elements("table", classed: "provenance").first
        #expect(try provenance.map { try inspection.elements("th", in: $0).first?.stringValue } == hostile)
        #expect(try provenance.map { try inspection.elements("td", in: $0).first?.stringValue } == "a\"b<c>&d")
        let metricsHeader = try inspection.elements("table", classed: "metrics").first.map { try inspection.elements("th", in: $0) } ?? []
        #expect(metricsHeader.map(\.stringValue).contains(hostile))
        #expect(try inspection.elements("h3").map(\.stringValue).contains(hostile))
        #expect(try inspection.elements("h3", classed: "comparison").first?.stringValue == "\(hostile) − b<c")
        #expect(try inspection.elements("text").map(\.stringValue).contains { $0?.hasPrefix(hostile) == true }, "the legend and chart titles")
    }

    /// Every estimate and bound in the metrics table is the model's value: exactly in `data-value`,
    /// and as text rounded to the shown decimals.
    @Test(arguments: ["classification", "regression"])
    func metricTableShowsTheModelsNumbers(sample: String) throws {
        let report = SampleReports.named(sample)
        let inspection = try ReportInspection(report)
        let table = try #require(try inspection.elements("table", classed: "metrics").first)
        let rows = try inspection.elements("tr", in: table).filter { $0.value("data-metric") != nil }
        #expect(rows.map { $0.value("data-metric") } == report.models[0].metrics.map(\.metric.name))
        var checked = 0
        for row in rows {
            let metric = try Metric(name: try #require(row.value("data-metric")))
            let cells = try inspection.elements("td", in: row)
            try #require(cells.count == report.models.count)
            for (cell, model) in zip(cells, report.models) {
                let interval = try #require(model.metrics.first { $0.metric == metric }?.interval)
                for (className, value) in [("estimate", interval.estimate), ("lower", interval.lower), ("upper", interval.upper)] {
                    let span = try #require(try inspection.elements("span", classed: className, in: cell).first)
                    #expect(span.value("data-value") == "\(value)")
                    let text = try #require(span.stringValue)
                    let shown = try #require(Double(text), "\(text) is not a number")
                    let places = decimals(of: text)
                    #expect(abs(shown - value) <= 0.5 * pow(10, -Double(places)) * (1 + 1e-9), "\(metric) of \(model.name): \(text) for \(value)")
                    #expect(metric.higherIsBetter ? places == 3 : places >= 2 && places <= 4, "\(metric): \(text)")
                    checked += 1
                }
            }
            let estimates = report.models.map { $0.metrics.first { $0.metric == metric }!.interval!.estimate }
            let best = metric.higherIsBetter ? estimates.firstIndex(of: estimates.max()!)! : estimates.firstIndex(of: estimates.min()!)!
            #expect(cells.map { ($0.value("class") ?? "").contains("best") } == estimates.indices.map { $0 == best }, "\(metric)")
        }
        #expect(checked == 3 * report.models.count * report.models[0].metrics.count)
        let counts = try inspection.elements("tr", classed: "count", in: table).first.map { try inspection.elements("td", in: $0).map(\.stringValue) }
        #expect(counts == report.models.map { "\($0.exampleCount)" })
    }

    @Test(arguments: ["classification", "regression"])
    func comparisonTablesShowTheComparisonsNumbers(sample: String) throws {
        let report = SampleReports.named(sample)
        let inspection = try ReportInspection(report)
        let comparison = try #require(report.comparisons.first)
        #expect(try inspection.elements("h3", classed: "comparison").first?.stringValue == "\(comparison.first) − \(comparison.second)")
        let table = try #require(try inspection.elements("table", classed: "differences").first)
        let rows = try inspection.elements("tr", in: table).filter { $0.value("data-metric") != nil }
        #expect(rows.count == comparison.differences.count)
        for (row, difference) in zip(rows, comparison.differences) {
            let result = try #require(difference.result)
            #expect(row.value("data-metric") == difference.metric.name)
            for (className, value) in [("difference", result.difference), ("lower", result.lower), ("upper", result.upper)] {
                let span = try #require(try inspection.elements("span", classed: className, in: row).first)
                #expect(span.value("data-value") == "\(value)")
                let text = try #require(span.stringValue)
                let shown = try #require(Double(text))
                #expect(abs(shown - value) <= 0.5 * pow(10, -Double(decimals(of: text))) * (1 + 1e-9))
            }
            let p = try #require(try inspection.elements("span", classed: "p", in: row).first)
            #expect(p.stringValue == NumberText.pValue(result.pValue) && p.value("data-value") == "\(result.pValue)")
            let excludes = try inspection.elements("td", in: row)[3].stringValue
            #expect(excludes == (result.lower > 0 || result.upper < 0 ? "yes" : "no"))
        }
        if let test = comparison.mcNemar {
            let table = try #require(try inspection.elements("table", classed: "mcnemar").first)
            let row = try #require(try inspection.elements("tbody", in: table).first)
            let cells = try inspection.elements("td", in: row).map(\.stringValue)
            #expect(cells.dropFirst().map { $0 ?? "" } == [
                "\(test.firstOnlyCorrect)", "\(test.secondOnlyCorrect)", "\(test.firstOnlyCorrect + test.secondOnlyCorrect)",
                NumberText.pValue(test.pValue),
            ])
        } else {
            #expect(try inspection.elements("table", classed: "mcnemar").isEmpty)
        }
    }

    /// The split table's values are the metrics recomputed here on each fold's predictions.
    @Test func splitTableShowsEachFoldsValueAndTheirMean() throws {
        let inspection = try ReportInspection(Self.regression)
        let tables = try inspection.elements("table", classed: "splits")
        let sample = SampleReports.regressionPredictions
        try #require(tables.count == sample.count)
        for (table, model) in zip(tables, sample) {
            let rows = try inspection.elements("tr", in: table).dropFirst().map { try inspection.elements("td", in: $0).map { $0.stringValue ?? "" } }
            #expect(rows.map(\.first) == ["fold 1", "fold 2", "fold 3", "fold 4", "fold 5", "mean", "SD"])
            for (column, metric) in SampleReports.regressionMetrics.enumerated() {
                let values = try model.folds.map { try metric.value(of: $0.predictions) }
                let style = Self.regression.style(for: metric)
                #expect(style == NumberText.style(for: metric, values: Self.regression.models.map { $0.metrics[column].interval!.estimate }))
                let mean = values.reduce(0, +) / Double(values.count)
                let expected = values.map { NumberText.format($0, style) } + [NumberText.format(mean, style)]
                #expect(rows.prefix(6).map { $0[column + 1] } == expected, "\(model.name), \(metric)")
            }
        }
    }

    @Test func reportsRoundTripThroughJSON() throws {
        for report in [Self.classification, Self.regression] {
            let data = try JSONEncoder().encode(report)
            #expect(try JSONDecoder().decode(EvaluationReport.self, from: data) == report)
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.contains("\"metric\":\"\(report.models[0].metrics[0].metric.name)\""), "metrics are stored by name")
        }
    }
}
