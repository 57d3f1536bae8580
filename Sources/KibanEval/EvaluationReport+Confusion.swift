/// Confusion matrices as shaded grids: rows are the true class, columns the predicted class, each
/// cell shows its count and its share of the row (the recall of the row's class on the diagonal),
/// and is shaded by that share, so that a rare class reads as clearly as a common one.
extension EvaluationReport {
    /// One grid per model that has a confusion matrix, or nil when none has.
    var confusionSection: String? {
        let charts = models.compactMap { model in model.classification?.confusion.map { ConfusionChart(model: model.name, matrix: $0).svg } }
        guard !charts.isEmpty else { return nil }
        return section(
            id: "confusion", title: "Confusion matrices",
            note: "Rows: true class; columns: predicted class. Each cell: count and share of its row, shaded by that share.",
            Markup.element("div", [("class", "charts")], charts.map { figure($0) }.joined()))
    }
}

/// One model's confusion matrix as an SVG grid.
struct ConfusionChart {
    let model: String
    let matrix: ConfusionMatrix

    /// Cells are 84 px for up to four classes, smaller (down to 28 px) for more.
    var cell: Double { matrix.classes.count <= 4 ? 84 : max(28, 360 / Double(matrix.classes.count)) }

    /// `counts[row][column]`, 0 where a decoded matrix lacks the entry.
    func count(_ row: Int, _ column: Int) -> Int {
        row < matrix.counts.count && column < matrix.counts[row].count ? matrix.counts[row][column] : 0
    }

    var svg: String {
        let classes = matrix.classes
        let (left, top) = (92.0, 72.0)
        let side = cell * Double(classes.count)
        var parts = [
            SVG.text(model, x: 12, y: 22, "chart-title"),
            SVG.text("predicted class", x: left + side / 2, y: 46, "axis-title", anchor: "middle"),
            SVG.text("true class", x: 30, y: top + side / 2, "axis-title", anchor: "middle", rotated: true),
        ]
        for (index, label) in classes.enumerated() {
            let center = Double(index) * cell + cell / 2
            parts.append(SVG.text("\(label)", x: left + center, y: top - 8, "tick", anchor: "middle"))
            parts.append(SVG.text("\(label)", x: left - 8, y: top + center + 4, "tick", anchor: "end"))
        }
        for row in classes.indices {
            let rowTotal = classes.indices.reduce(0) { $0 + count(row, $1) }
            for column in classes.indices {
                parts.append(cellMarkup(row: row, column: column, rowTotal: rowTotal, left: left, top: top))
            }
        }
        return SVG.document(width: left + side + 24, height: top + side + 24, title: "Confusion matrix of \(model)", parts.joined())
    }

    /// The shaded square, its count and (when it fits) its share of the row.
    func cellMarkup(row: Int, column: Int, rowTotal: Int, left: Double, top: Double) -> String {
        let value = count(row, column)
        let share = rowTotal == 0 ? 0 : Double(value) / Double(rowTotal)
        let (x, y) = (left + Double(column) * cell, top + Double(row) * cell)
        let textClass = share > 0.55 ? "cell-text dark" : "cell-text"
        let showsShare = cell >= 56
        var parts = [
            SVG.rect(x: x, y: y, width: cell, height: cell, "cell", fill: ConfusionChart.shade(share)),
            SVG.text("\(value)", x: x + cell / 2, y: y + cell / 2 + (showsShare ? 0 : 4), textClass + " count", anchor: "middle"),
        ]
        if showsShare {
            let percent = "\(NumberText.format(100 * share, .fixed(1))) %"
            parts.append(SVG.text(percent, x: x + cell / 2, y: y + cell / 2 + 18, textClass + " share", anchor: "middle"))
        }
        return parts.joined()
    }

    /// From near-white (share 0) to a deep blue (share 1), as `#rrggbb`.
    static func shade(_ share: Double) -> String {
        let t = min(1, max(0, share.isFinite ? share : 0))
        let light = (244.0, 247.0, 251.0)
        let dark = (37.0, 84.0, 148.0)
        let channels = [light.0 + (dark.0 - light.0) * t, light.1 + (dark.1 - light.1) * t, light.2 + (dark.2 - light.2) * t]
        return "#" + channels.map { hex(Int($0.rounded())) }.joined()
    }

    static func hex(_ value: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[value / 16], digits[value % 16]])
    }
}
