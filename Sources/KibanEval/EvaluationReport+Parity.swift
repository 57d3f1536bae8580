import Foundation

/// Parity plots for regression: predicted against true value, one plot per model, all on one
/// axis range for both axes (so the dashed y = x line is the diagonal and plots compare at a
/// glance): the finite values of every model, widened by 2 % on each side so that no point sits
/// on the frame, then out to round ticks.
///
/// Many points: at most `ParityChart.maximumPoints` are drawn; above that, a fixed sample of that
/// many (a seeded partial Fisher–Yates shuffle, the same on every run), and the caption says how
/// many of how many are shown. Points are translucent, opacity 12/√(points drawn) kept within
/// 0.12…0.75 (0.4 for 900 points), so that dense regions read darker instead of as one blot. The
/// axis range covers every finite pair, drawn or not; non-finite pairs are left out and counted
/// in the caption.
extension EvaluationReport {
    /// One parity plot per regression model, or nil when there is none.
    var paritySection: String? {
        let values = models.compactMap(\.regression).flatMap { ParityChart.finitePairs($0).flatMap { [$0.0, $0.1] } }
        let pad = ((values.max() ?? 0) - (values.min() ?? 0)) * 0.02
        let scale = AxisScale(covering: values.isEmpty ? [] : [values.min()! - pad, values.max()! + pad])
        let charts = models.enumerated().compactMap { index, model in
            model.regression.map { ParityChart(model: model.name, color: color(ofModel: index), data: $0, scale: scale).svg }
        }
        guard !charts.isEmpty else { return nil }
        return section(
            id: "parity", title: "Parity plots", note: "Predicted against true value; the dashed line is y = x.",
            Markup.element("div", [("class", "charts")], charts.map { figure($0) }.joined()))
    }
}

/// One model's parity plot.
struct ParityChart {
    let model: String
    let color: String
    let data: RegressionDetails
    /// Both axes.
    let scale: AxisScale

    static let maximumPoints = 4000

    /// The finite (target, prediction) pairs of `data`.
    static func finitePairs(_ data: RegressionDetails) -> [(Double, Double)] {
        zip(data.targets, data.predicted).filter { $0.0.isFinite && $0.1.isFinite }
    }

    /// The pairs drawn: all of them up to `maximumPoints`, else a seeded sample of that many, in
    /// their original order.
    static func drawn(_ pairs: [(Double, Double)]) -> [(Double, Double)] {
        guard pairs.count > maximumPoints else { return pairs }
        var generator = SplitMix64(seed: 0)
        var order = Array(pairs.indices)
        for position in 0..<maximumPoints {
            order.swapAt(position, position + generator.index(below: order.count - position))
        }
        return order[..<maximumPoints].sorted().map { pairs[$0] }
    }

    /// 12/√n within 0.12…0.75.
    static func opacity(pointCount: Int) -> Double {
        min(0.75, max(0.12, 12 / Double(max(1, pointCount)).squareRoot()))
    }

    var svg: String {
        let pairs = ParityChart.finitePairs(data)
        let shown = ParityChart.drawn(pairs)
        let frame = PlotFrame(width: 460, height: 36 + 360 + 64, left: 72, top: 36, plotWidth: 360, plotHeight: 360, x: scale, y: scale)
        let opacity = NumberText.format(ParityChart.opacity(pointCount: shown.count), .fixed(2))
        let points = shown.map { pair in
            Markup.empty("circle", [("cx", NumberText.coordinate(frame.px(pair.0))), ("cy", NumberText.coordinate(frame.py(pair.1))), ("r", "2.6")])
        }
        let content = [
            SVG.text(model, x: 12, y: 22, "chart-title"),
            frame.axes(xTitle: "true value", yTitle: "predicted value"),
            Markup.element("g", [("class", "points"), ("fill", color), ("fill-opacity", opacity)], points.joined()),
            SVG.line(frame.left, frame.bottom, frame.right, frame.top, "baseline"),
            SVG.text(caption(pairCount: pairs.count, shownCount: shown.count, opacity: opacity), x: frame.left, y: frame.bottom + 58, "caption"),
        ]
        return frame.svg(title: "Parity plot of \(model)", content.joined())
    }

    func caption(pairCount: Int, shownCount: Int, opacity: String) -> String {
        var text =
            shownCount == pairCount
            ? "\(pairCount) point\(pairCount == 1 ? "" : "s"), opacity \(opacity)"
            : "\(shownCount) of \(pairCount) points (fixed random sample), opacity \(opacity)"
        let total = min(data.targets.count, data.predicted.count)
        if pairCount < total { text += "; \(total - pairCount) non-finite left out" }
        return text
    }
}
