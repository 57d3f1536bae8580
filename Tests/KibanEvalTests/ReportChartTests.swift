import Foundation
import FoundationXML
import Testing

@testable import KibanEval

/// The SVG charts: coordinates inside their plots and back-mappable to the data they draw.
@Suite struct ReportChartTests {
    /// The curve charts' plot area (`CurveChart.frame`): data (x, y) in the unit square from pixels.
    static func curveData(_ point: (x: Double, y: Double)) -> (x: Double, y: Double) {
        ((point.x - 64) / 380, (376 - point.y) / 340)
    }

    @Test(arguments: ["classification", "regression"])
    func everyCoordinateIsFiniteAndInsideItsSVG(sample: String) throws {
        let report = SampleReports.named(sample)
        let inspection = try ReportInspection(report)
        for svg in try inspection.elements("svg") {
            let title = try inspection.elements("title", in: svg).first?.stringValue ?? "?"
            let problems = try coordinateProblems(in: svg, inspection: inspection)
            #expect(problems.isEmpty, "\(title): \(problems.prefix(5))")
        }
    }

    @Test func rocPathsFollowTheCurvesInsideThePlot() throws {
        let report = SampleReports.classification
        let inspection = try ReportInspection(report)
        let svg = try #require(try inspection.svg(titled: "ROC curve"))
        let paths = try inspection.elements("path", classed: "curve", in: svg)
        try #require(paths.count == report.models.count)
        for (path, model) in zip(paths, report.models) {
            let curve = try #require(model.classification?.roc)
            let points = pathPoints(try #require(path.value("d"))).map(Self.curveData)
            #expect(points.count > 20 && points.count <= curve.x.count)
            #expect(abs(points.first!.x) < 1e-3 && abs(points.first!.y) < 1e-3, "starts at (0, 0)")
            #expect(abs(points.last!.x - 1) < 1e-3 && abs(points.last!.y - 1) < 1e-3, "ends at (1, 1)")
            for point in points {
                #expect((0...1).contains(point.x) && (0...1).contains(point.y))
                let nearest = zip(curve.x, curve.y).map { max(abs($0 - point.x), abs($1 - point.y)) }.min()!
                #expect(nearest < 0.06 / 340, "pixel rounding only: \(point)")
            }
        }
        let legend = try inspection.elements("text", classed: "legend", in: svg).compactMap(\.stringValue)
        let expected = try SampleReports.classificationPredictions.models.map {
            "\($0.name) — AUROC \(NumberText.format(try Metric.auroc.value(of: $0.predictions), .fixed(3)))"
        }
        #expect(Array(legend.prefix(2)) == expected)
        #expect(legend.last == "chance (AUROC 0.5)")
        let chance = try #require(try inspection.elements("line", classed: "baseline", in: svg).first)
        #expect([chance.number("x1"), chance.number("y1"), chance.number("x2"), chance.number("y2")] == [64, 376, 444, 36])
    }

    /// Each corner of the step path is a curve point or lies on the horizontal run from one point
    /// to the next recall; the baseline sits at the positive rate.
    @Test func precisionRecallPathsAreStepsThroughTheCurve() throws {
        let report = SampleReports.classification
        let inspection = try ReportInspection(report)
        let svg = try #require(try inspection.svg(titled: "Precision–recall curve"))
        let paths = try inspection.elements("path", classed: "curve", in: svg)
        for (path, model) in zip(paths, report.models) {
            let curve = try #require(model.classification?.precisionRecall)
            let points = pathPoints(try #require(path.value("d"))).map(Self.curveData)
            for (before, after) in zip(points, points.dropFirst()) {
                #expect(abs(before.x - after.x) < 1e-9 || abs(before.y - after.y) < 1e-9, "segments are horizontal or vertical")
            }
            let tolerance = 0.06 / 340
            let corners = zip(curve.x.dropFirst(), zip(curve.y, curve.y.dropFirst())).flatMap { x, y in [(x, y.0), (x, y.1)] }
            for point in points.dropFirst() {
                #expect(corners.contains { abs($0.0 - point.x) < tolerance && abs($0.1 - point.y) < tolerance }, "\(point)")
            }
        }
        let rate = try #require(report.models[0].classification?.positiveRate)
        let labels = SampleReports.classificationPredictions.labels
        #expect(rate == Double(labels.filter { $0 == 1 }.count) / 493)
        let baseline = try #require(try inspection.elements("line", classed: "baseline", in: svg).first)
        #expect(abs(Self.curveData((0, baseline.number("y1")!)).y - rate) < 0.2 / 340)
    }

    @Test func parityPointsAreThePairsOnSquareAxes() throws {
        let report = SampleReports.regression
        let inspection = try ReportInspection(report)
        let model = report.models[0]
        let data = try #require(model.regression)
        let svg = try #require(try inspection.svg(titled: "Parity plot of \(model.name)"))
        let group = try #require(try inspection.elements("g", classed: "points", in: svg).first)
        #expect(group.value("fill-opacity") == "0.40", "12/√900")
        let circles = try inspection.elements("circle", in: group)
        try #require(circles.count == 900)
        let all = report.models.compactMap(\.regression).flatMap { $0.targets + $0.predicted }
        let pad = (all.max()! - all.min()!) * 0.02
        let scale = AxisScale(covering: [all.min()! - pad, all.max()! + pad])
        #expect(scale.lower <= all.min()! - pad && scale.upper >= all.max()! + pad && scale.step == 2, "one range for both models")
        for (circle, (target, predicted)) in zip(circles, zip(data.targets, data.predicted)) {
            let x = scale.lower + (circle.number("cx")! - 72) / 360 * (scale.upper - scale.lower)
            let y = scale.lower + (396 - circle.number("cy")!) / 360 * (scale.upper - scale.lower)
            #expect(abs(x - target) <= 0.06 / 360 * (scale.upper - scale.lower) && abs(y - predicted) <= 0.06 / 360 * (scale.upper - scale.lower))
        }
        let diagonal = try #require(try inspection.elements("line", classed: "baseline", in: svg).first)
        #expect([diagonal.number("x1"), diagonal.number("y1"), diagonal.number("x2"), diagonal.number("y2")] == [72, 396, 432, 36])
        let ticks = try inspection.elements("text", classed: "tick", in: svg).compactMap(\.stringValue)
        #expect(ticks.count == 2 * scale.ticks.count && ticks.allSatisfy { Double($0).map { abs($0 - ($0 / scale.step).rounded() * scale.step) < 1e-9 } == true })
    }

    @Test func parityPlotsDrawAFixedSampleOfManyPoints() throws {
        var generator = SplitMix64(seed: 3)
        let targets = (0..<10_000).map { _ in generator.unitInterval() * 100 }
        let model = ModelReport(
            name: "big", exampleCount: targets.count, metrics: [],
            regression: RegressionDetails(targets: targets, predicted: targets.map { $0 + 5 * generator.unitInterval() }))
        let report = EvaluationReport(title: "many points", models: [model])
        let inspection = try ReportInspection(report)
        #expect(try inspection.elements("circle").count == ParityChart.maximumPoints)
        #expect(try inspection.elements("text", classed: "caption").first?.stringValue == "4000 of 10000 points (fixed random sample), opacity 0.19")
        #expect(report.html() == inspection.html, "the sample is the same on every render")
        let problems = try coordinateProblems(in: try #require(try inspection.elements("svg").first), inspection: inspection)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test func axisTicksAreRoundNumbersCoveringTheData() {
        let unit = AxisScale(covering: [0.13, 0.87])
        #expect(unit.step == 0.1 && abs(unit.lower - 0.1) < 1e-12 && abs(unit.upper - 0.9) < 1e-12)
        #expect(unit.ticks.map(unit.label) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"])
        let coarse = AxisScale(covering: [0.13, 0.87], maximumIntervals: 5)
        #expect(coarse.ticks.map(coarse.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let wide = AxisScale(covering: [3, 97])
        #expect(wide.step == 20 && wide.ticks == [0, 20, 40, 60, 80, 100] && wide.label(40) == "40")
        let negative = AxisScale(covering: [-9.1, 2.4])
        #expect(negative.step == 2 && negative.lower == -10 && negative.upper == 4)
        #expect(negative.ticks.map(negative.label) == ["-10", "-8", "-6", "-4", "-2", "0", "2", "4"])
        let single = AxisScale(covering: [4])
        #expect(single.lower <= 3.6 && single.upper >= 4.4 && single.lower < single.upper)
        let zero = AxisScale(covering: [0, 0])
        #expect(zero.lower == -1 && zero.upper == 1)
        let none = AxisScale(covering: [.nan, .infinity])
        #expect(none.lower == 0 && none.upper == 1)
        let tiny = AxisScale(covering: [1e-7, 3e-7])
        #expect(tiny.ticks.map(tiny.label).allSatisfy { !$0.contains("0.0000") && Double($0) != nil })
    }

    @Test func confusionGridShowsCountsAndRowShares() throws {
        let report = SampleReports.classification
        let inspection = try ReportInspection(report)
        for model in report.models {
            let matrix = try #require(model.classification?.confusion)
            let svg = try #require(try inspection.svg(titled: "Confusion matrix of \(model.name)"))
            let counts = try inspection.elements("text", classed: "count", in: svg).map { Int($0.stringValue ?? "") }
            #expect(counts == matrix.counts.flatMap { $0 }.map(Optional.init))
            let shares = try inspection.elements("text", classed: "share", in: svg).compactMap(\.stringValue)
            let expected = matrix.counts.flatMap { row in row.map { NumberText.format(100 * Double($0) / Double(row.reduce(0, +)), .fixed(1)) + " %" } }
            #expect(shares == expected)
            let fills = try inspection.elements("rect", classed: "cell", in: svg).compactMap { $0.value("fill") }
            let diagonalShare = Double(matrix.counts[1][1]) / Double(matrix.counts[1].reduce(0, +))
            #expect(fills.count == 4 && fills[3] == ConfusionChart.shade(diagonalShare))
        }
        #expect(ConfusionChart.shade(0) == "#f4f7fb" && ConfusionChart.shade(1) == "#255494" && ConfusionChart.shade(.nan) == "#f4f7fb")
    }

    @Test func splitBarsRiseFromZeroWithTheMeanDashed() throws {
        let report = SampleReports.regression
        let inspection = try ReportInspection(report)
        let result = try #require(report.models[0].metrics.first { $0.metric == .r2 })
        let svgs = try inspection.elements("svg").filter { (try? inspection.elements("title", in: $0).first?.stringValue) == "R² per split" }
        let svg = try #require(svgs.first)
        let bars = try inspection.elements("rect", classed: "bar", in: svg)
        #expect(bars.count == 5)
        let zero = try #require(try inspection.elements("line", classed: "zero", in: svg).first?.number("y1"))
        let values = result.splits.compactMap(\.value)
        for (bar, value) in zip(bars, values) {
            #expect(abs(bar.number("y")! + bar.number("height")! - zero) < 0.11, "a positive R² bar ends on the zero line")
            #expect(value > 0)
        }
        let heights = bars.map { $0.number("height")! }
        #expect(heights.firstIndex(of: heights.max()!) == values.firstIndex(of: values.max()!), "the tallest bar is the best fold")
        let mean = values.reduce(0, +) / 5
        #expect(try inspection.elements("text", classed: "legend", in: svg).first?.stringValue == "mean \(NumberText.format(mean, .fixed(3)))")
        #expect(try inspection.elements("line", classed: "mean", in: svg).count == 1)
    }
}
