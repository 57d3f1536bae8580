/// Per-fold or per-seed values: for each model with splits, a table (one row per split, then their
/// mean and sample standard deviation) and one bar chart per metric with the mean as a dashed line.
/// Bars start at 0, so their heights compare honestly; the printed values show differences smaller
/// than the bars can.
extension EvaluationReport {
    /// The split tables and charts, or nil when no metric of any model has split values.
    var splitsSection: String? {
        let blocks = models.enumerated().compactMap { index, model -> String? in
            let metrics = model.metrics.filter { !$0.splits.isEmpty }
            guard !metrics.isEmpty else { return nil }
            let charts = metrics.map { figure(SplitChart(result: $0, color: color(ofModel: index), style: style(for: $0.metric)).svg) }
            return Markup.text("h3", [], model.name)
                + Markup.element(
                    "div", [("class", "split-block")], splitTable(metrics) + Markup.element("div", [("class", "charts")], charts.joined()))
        }
        guard !blocks.isEmpty else { return nil }
        return section(
            id: "splits", title: "Per-fold and per-seed values",
            note: "Each metric on each fold or seed; mean and sample standard deviation (n − 1) over them. Dashed line: the mean.",
            blocks.joined())
    }

    /// Rows: the splits (names from the first metric), then mean and SD; columns: the metrics.
    func splitTable(_ metrics: [MetricResult]) -> String {
        let splitCount = metrics.map(\.splits.count).max() ?? 0
        let styles = metrics.map { style(for: $0.metric) }
        let header = Markup.element(
            "tr", [], Markup.text("th", [], "split") + metrics.map { Markup.text("th", [("class", "num")], $0.metric.displayName) }.joined())
        let rows = (0..<splitCount).map { row in
            let name = metrics.first { row < $0.splits.count }?.splits[row].name ?? ""
            let cells = zip(metrics, styles).map { result, style in
                let value = row < result.splits.count ? result.splits[row].value : nil
                return Markup.text("td", [("class", "num")], value.map { NumberText.format($0, style) } ?? NumberText.missing)
            }
            return Markup.element("tr", [], Markup.text("td", [], name) + cells.joined())
        }
        let summaries = [("mean", SplitStatistics.mean), ("SD", SplitStatistics.standardDeviation)].map { label, statistic in
            let cells = zip(metrics, styles).map { result, style in
                Markup.text(
                    "td", [("class", "num")], statistic(result.splits.compactMap(\.value)).map { NumberText.format($0, style) } ?? NumberText.missing)
            }
            return Markup.element("tr", [("class", "summary")], Markup.text("td", [], label) + cells.joined())
        }
        return Markup.element("table", [("class", "splits")], Markup.element("thead", [], header) + Markup.element("tbody", [], (rows + summaries).joined()))
    }
}

/// Mean and sample standard deviation of split values; nil when undefined (no values, or one for
/// the standard deviation).
enum SplitStatistics {
    static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : orderIndependentSum(values) / Double(values.count)
    }

    static func standardDeviation(_ values: [Double]) -> Double? {
        guard values.count > 1, let mean = mean(values) else { return nil }
        return (orderIndependentSum(values.map { ($0 - mean) * ($0 - mean) }) / Double(values.count - 1)).squareRoot()
    }
}

/// One metric's split values as bars from 0, with the mean dashed.
///
/// Splits named "<word> <label>" with one shared word ("fold 1" … "fold 5") are labelled by
/// `<label>` under an axis title `<word>`; other names are shown whole up to eight splits, and
/// replaced by their position from 1 beyond that.
struct SplitChart {
    let result: MetricResult
    let color: String
    let style: NumberText.Style

    /// The axis title and the label of each split.
    var labels: (title: String, labels: [String]) {
        let names = result.splits.map(\.name)
        let words = names.map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        if let first = words.first, first.count == 2, words.allSatisfy({ $0.count == 2 && $0[0] == first[0] }) {
            return (first[0], words.map { $0[1] })
        }
        return names.count <= 8 ? ("", names) : ("split", names.indices.map { "\($0 + 1)" })
    }

    var svg: String {
        let splits = result.splits
        let values = splits.compactMap(\.value).filter(\.isFinite)
        let mean = SplitStatistics.mean(values)
        let scale = AxisScale(covering: values + [0], maximumIntervals: 5)
        let slot = 140 / Double(max(1, splits.count))
        let frame = PlotFrame(
            width: 192, height: 30 + 110 + 44, left: 44, top: 30, plotWidth: slot * Double(max(1, splits.count)), plotHeight: 110,
            x: AxisScale(lower: 0, upper: 1, step: 1), y: scale)
        let (axisTitle, labels) = labels
        var parts = [SVG.text(result.metric.displayName, x: 8, y: 18, "chart-title"), yAxis(frame)]
        for (index, split) in splits.enumerated() {
            let center = frame.left + slot * (Double(index) + 0.5)
            if let value = split.value, value.isFinite {
                let (top, bottom) = (min(frame.py(value), frame.py(0)), max(frame.py(value), frame.py(0)))
                parts.append(SVG.rect(x: center - slot * 0.32, y: top, width: slot * 0.64, height: max(0.5, bottom - top), "bar", fill: color))
            }
            parts.append(SVG.text(labels[index], x: center, y: frame.bottom + 15, "tick", anchor: "middle"))
        }
        if !axisTitle.isEmpty {
            parts.append(SVG.text(axisTitle, x: frame.left + frame.plotWidth / 2, y: frame.bottom + 34, "axis-title", anchor: "middle"))
        }
        if let mean {
            parts.append(SVG.line(frame.left, frame.py(mean), frame.right, frame.py(mean), "mean"))
            parts.append(SVG.text("mean \(NumberText.format(mean, style))", x: frame.right, y: 18, "legend", anchor: "end"))
        }
        return frame.svg(title: "\(result.metric.displayName) per split", parts.joined())
    }

    /// Horizontal grid lines with labels at the y ticks, a solid line at 0.
    func yAxis(_ frame: PlotFrame) -> String {
        frame.y.ticks.map { tick in
            SVG.line(frame.left, frame.py(tick), frame.right, frame.py(tick), tick == 0 ? "zero" : "grid")
                + SVG.text(frame.y.label(tick), x: frame.left - 6, y: frame.py(tick) + 4, "tick", anchor: "end")
        }.joined()
    }
}
