/// The ROC and precision–recall charts: every model with a curve, overlaid in its colour, with the
/// chance line (ROC) or the positive-rate baseline (PR) dashed, and a legend below the plot giving
/// each model's area.
///
/// ROC paths leave out points closer than a quarter pixel in both directions to the last point
/// drawn (a curve over 10⁵ examples has up to 10⁵ points, far more than the plot's pixels); the
/// first and last points are always drawn. Precision–recall curves are drawn as steps (each point's
/// precision held to the next point's recall), the shape whose area is the average precision, with
/// straight runs merged.
extension EvaluationReport {
    /// The ROC and PR charts side by side, or nil when no model has either curve.
    var curvesSection: String? {
        let charts = [rocChart, precisionRecallChart].compactMap { $0 }
        guard !charts.isEmpty else { return nil }
        return section(
            id: "curves", title: "ROC and precision–recall curves",
            note: "Curves over all examples; legend areas are AUROC and average precision (AP).",
            Markup.element("div", [("class", "charts")], charts.map { figure($0) }.joined()))
    }

    var rocChart: String? {
        let curves = models.enumerated().compactMap { index, model in
            model.classification?.roc.map { (name: model.name, color: color(ofModel: index), curve: $0) }
        }
        guard !curves.isEmpty else { return nil }
        let chance = CurveChart.Baseline(label: "chance (AUROC 0.5)", from: (0, 0), to: (1, 1))
        return CurveChart(
            title: "ROC curve", xTitle: "false-positive rate", yTitle: "true-positive rate", areaName: "AUROC", stepped: false,
            curves: curves, baselines: [chance]
        ).svg
    }

    var precisionRecallChart: String? {
        let curves = models.enumerated().compactMap { index, model in
            model.classification?.precisionRecall.map { (name: model.name, color: color(ofModel: index), curve: $0) }
        }
        guard !curves.isEmpty else { return nil }
        let rates = models.compactMap { $0.classification?.positiveRate }.filter(\.isFinite)
        let baselines = Array(Set(rates)).sorted().map { rate in
            CurveChart.Baseline(label: "chance (positive rate \(NumberText.format(rate, .fixed(3))))", from: (0, rate), to: (1, rate))
        }
        return CurveChart(
            title: "Precision–recall curve", xTitle: "recall", yTitle: "precision", areaName: "AP", stepped: true, curves: curves,
            baselines: baselines
        ).svg
    }
}

/// One chart of curves on the unit square.
struct CurveChart {
    /// A dashed reference line from one data point to another.
    struct Baseline {
        let label: String
        let from: (Double, Double)
        let to: (Double, Double)
    }

    let title: String
    let xTitle: String
    let yTitle: String
    let areaName: String
    let stepped: Bool
    let curves: [(name: String, color: String, curve: Curve)]
    let baselines: [Baseline]

    static let legendRowHeight = 20.0

    var frame: PlotFrame {
        let unit = AxisScale(lower: 0, upper: 1, step: 0.2)
        let legendHeight = Double(curves.count + baselines.count) * CurveChart.legendRowHeight
        return PlotFrame(
            width: 480, height: 36 + 340 + 52 + legendHeight + 8, left: 64, top: 36, plotWidth: 380, plotHeight: 340, x: unit,
            y: unit)
    }

    var svg: String {
        let frame = frame
        var parts = [SVG.text(title, x: 12, y: 22, "chart-title"), frame.axes(xTitle: xTitle, yTitle: yTitle)]
        for baseline in baselines {
            parts.append(
                SVG.line(frame.px(baseline.from.0), frame.py(baseline.from.1), frame.px(baseline.to.0), frame.py(baseline.to.1), "baseline"))
        }
        for entry in curves {
            if let path = path(entry.curve, in: frame) {
                parts.append(Markup.empty("path", [("d", path), ("class", "curve"), ("stroke", entry.color)]))
            }
        }
        parts.append(legend(in: frame))
        return frame.svg(title: title, parts.joined())
    }

    /// The SVG path of `curve`'s finite points, as steps or thinned points; nil without any.
    func path(_ curve: Curve, in frame: PlotFrame) -> String? {
        let points = zip(curve.x, curve.y).filter { $0.0.isFinite && $0.1.isFinite }.map { (frame.px($0.0), frame.py($0.1)) }
        let vertices = stepped ? CurveChart.steps(points) : CurveChart.thinned(points)
        guard let first = vertices.first else { return nil }
        let start = "M\(NumberText.coordinate(first.0)) \(NumberText.coordinate(first.1))"
        return start + vertices.dropFirst().map { "L\(NumberText.coordinate($0.0)) \(NumberText.coordinate($0.1))" }.joined()
    }

    /// `points` without those closer than a quarter pixel in both directions to the last one
    /// kept; the first and last are always kept.
    static func thinned(_ points: [(Double, Double)]) -> [(Double, Double)] {
        var kept: [(Double, Double)] = []
        for (index, point) in points.enumerated() {
            if let last = kept.last, index < points.count - 1, abs(point.0 - last.0) < 0.25, abs(point.1 - last.1) < 0.25 { continue }
            kept.append(point)
        }
        return kept
    }

    /// The step path through `points`: from each point horizontally to the next one's x, then
    /// vertically to it; runs of vertices on one horizontal or vertical line keep only their ends
    /// (which changes nothing drawn).
    static func steps(_ points: [(Double, Double)]) -> [(Double, Double)] {
        var vertices: [(Double, Double)] = []
        func add(_ point: (Double, Double)) {
            guard let last = vertices.last, last != point else {
                if vertices.isEmpty { vertices.append(point) }
                return
            }
            if vertices.count >= 2 {
                let before = vertices[vertices.count - 2]
                if (before.0 == last.0 && last.0 == point.0) || (before.1 == last.1 && last.1 == point.1) {
                    vertices[vertices.count - 1] = point
                    return
                }
            }
            vertices.append(point)
        }
        for (index, point) in points.enumerated() {
            if index > 0 { add((point.0, points[index - 1].1)) }
            add(point)
        }
        return vertices
    }

    /// One row per curve (colour, name, area), then one per baseline, below the x-axis title.
    func legend(in frame: PlotFrame) -> String {
        let rows =
            curves.map { (className: "curve", color: Optional($0.color), text: "\($0.name) — \(areaName) \(NumberText.format($0.curve.area, .fixed(3)))") }
            + baselines.map { (className: "baseline", color: String?.none, text: $0.label) }
        return rows.enumerated().map { index, row in
            let y = frame.bottom + 56 + Double(index) * CurveChart.legendRowHeight
            return SVG.line(frame.left, y - 4, frame.left + 24, y - 4, row.className, stroke: row.color)
                + SVG.text(row.text, x: frame.left + 32, y: y, "legend")
        }.joined()
    }
}
