import Foundation

/// Loss and metric curves as a self-contained SVG: training loss per update with its moving mean
/// and the validation loss on the left, the monitored validation metric on the right, against updates.
enum CurvePlot {
    static func write(log: MetricsLog, monitor: String, to url: URL) throws {
        let records = log.records()
        let train = records.filter { $0["kind"] as? String == "train" }.compactMap(point("loss"))
        let validationLoss = records.filter { $0["kind"] as? String == "eval" }.compactMap(point("validation_loss"))
        let metric = records.filter { $0["kind"] as? String == "eval" }.compactMap(point(monitor))
        let left = panel(
            title: "loss",
            series: [("train", "#bbccee", train), ("train, moving mean", "#4477aa", movingMean(train)), ("validation", "#ee6677", validationLoss)],
            x: 0)
        let right = panel(title: monitor, series: [(monitor, "#228833", metric)], x: 420)
        let svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="840" height="320" font-family="sans-serif" font-size="11">
            <rect width="840" height="320" fill="white"/>
            \(left)
            \(right)
            </svg>

            """
        try svg.write(to: url, atomically: true, encoding: .utf8)
    }

    /// The mean over a trailing window of about 2 % of the points (at least 1).
    static func movingMean(_ points: [(Double, Double)]) -> [(Double, Double)] {
        let window = max(1, points.count / 50)
        var sum = 0.0
        return points.enumerated().map { index, point in
            sum += point.1
            if index >= window { sum -= points[index - window].1 }
            return (point.0, sum / Double(min(index + 1, window)))
        }
    }

    private static func point(_ key: String) -> ([String: Any]) -> (Double, Double)? {
        { record in
            guard let step = record["step"] as? Int, let value = record[key] as? Double, value.isFinite else { return nil }
            return (Double(step), value)
        }
    }

    /// One 400×300 panel at horizontal offset `x` with axes, extreme labels and a legend.
    private static func panel(title: String, series: [(String, String, [(Double, Double)])], x: Double) -> String {
        let points = series.flatMap(\.2)
        guard let minX = points.map(\.0).min(), let maxX = points.map(\.0).max(),
              let minY = points.map(\.1).min(), let maxY = points.map(\.1).max() else {
            return "<text x=\"\(x + 150)\" y=\"160\">no \(title) data</text>"
        }
        let (left, top, width, height) = (x + 50, 30.0, 340.0, 240.0)
        let spanX = max(maxX - minX, 1), spanY = max(maxY - minY, 1e-12)
        func position(_ p: (Double, Double)) -> String {
            String(format: "%.1f,%.1f", left + (p.0 - minX) / spanX * width, top + height - (p.1 - minY) / spanY * height)
        }
        var parts = [
            "<text x=\"\(left)\" y=\"18\" font-size=\"13\">\(title)</text>",
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#888\"/>",
            String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.4g</text>", left - 4, top + 4, maxY),
            String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.4g</text>", left - 4, top + height, minY),
            String(format: "<text x=\"%.0f\" y=\"%.0f\">update %.0f</text>", left, top + height + 16, minX),
            String(format: "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>", left + width, top + height + 16, maxX),
        ]
        for (index, (name, colour, data)) in series.enumerated() where !data.isEmpty {
            let marker = data.count == 1 ? "<circle cx=\"\(position(data[0]).split(separator: ",")[0])\" cy=\"\(position(data[0]).split(separator: ",")[1])\" r=\"3\" fill=\"\(colour)\"/>" : ""
            parts.append("<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(data.map(position).joined(separator: " "))\"/>\(marker)")
            parts.append("<text x=\"\(left + width - 120)\" y=\"\(top + 16 + 14 * Double(index))\" fill=\"\(colour)\">\(name)</text>")
        }
        return parts.joined(separator: "\n")
    }
}
