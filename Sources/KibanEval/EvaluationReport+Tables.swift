/// The report's tables: provenance, metrics (models side by side), paired differences and
/// McNemar's test.
///
/// Numbers carry their exact value in a `data-value` attribute beside the rounded text, so that a
/// reader's script (or a test) can check what the page shows against the report.
extension EvaluationReport {
    var provenanceSection: String? {
        guard !provenance.isEmpty else { return nil }
        let rows = provenance.map { Markup.element("tr", [], Markup.text("th", [], $0.key) + Markup.text("td", [("class", "mono")], $0.value)) }
        return section(id: "provenance", title: "Provenance", note: nil, Markup.element("table", [("class", "provenance")], rows.joined()))
    }

    /// Rows: examples, then each metric in the order the models list them; columns: the models.
    /// With two or more models the best value of a row (by `Metric.higherIsBetter`) is bold.
    var metricsSection: String? {
        let metrics = orderedMetrics
        guard !metrics.isEmpty else { return nil }
        let confidence = models.lazy.flatMap(\.metrics).compactMap(\.interval).first?.confidence ?? 0.95
        let header = Markup.element(
            "tr", [],
            Markup.text("th", [], "metric")
                + models.enumerated().map { index, model in
                    Markup.element("th", [("class", "num")], swatch(color(ofModel: index)) + Markup.escaped(model.name))
                }.joined())
        let counts = Markup.element(
            "tr", [("class", "count")],
            Markup.text("th", [], "examples") + models.map { Markup.text("td", [("class", "num")], "\($0.exampleCount)") }.joined())
        let rows = metrics.map { metricRow($0) }
        let note =
            "Estimate (with folds or seeds: the mean of their values) and its \(NumberText.format(100 * confidence, .fixed(0))) % "
            + "percentile bootstrap interval over examples [lower, upper]. "
            + "↑ higher is better, ↓ lower is better."
        return section(
            id: "metrics", title: "Metrics", note: note,
            Markup.element(
                "table", [("class", "metrics")], Markup.element("thead", [], header) + Markup.element("tbody", [], ([counts] + rows).joined())))
    }

    /// Every metric any model reports, in first-seen order.
    var orderedMetrics: [Metric] {
        var seen: [Metric] = []
        for metric in models.flatMap({ $0.metrics.map(\.metric) }) where !seen.contains(metric) { seen.append(metric) }
        return seen
    }

    func metricRow(_ metric: Metric) -> String {
        let results = models.map { model in model.metrics.first { $0.metric == metric } }
        let estimates = results.compactMap { $0?.interval?.estimate }.filter(\.isFinite)
        let style = style(for: metric)
        let best = estimates.count > 1 ? (metric.higherIsBetter ? estimates.max() : estimates.min()) : nil
        let cells = results.map { result -> String in
            guard let result else { return Markup.text("td", [("class", "num")], NumberText.missing) }
            guard let interval = result.interval else {
                return Markup.element(
                    "td", [("class", "num unavailable")],
                    Markup.escaped(NumberText.missing) + Markup.text("div", [("class", "reason")], result.unavailable ?? "not computed"))
            }
            let isBest = best != nil && interval.estimate == best
            return Markup.element(
                "td", [("class", isBest ? "num best" : "num"), ("data-metric", metric.name)],
                number(interval.estimate, style, className: "estimate") + " "
                    + Markup.element(
                        "span", [("class", "interval")],
                        "[" + number(interval.lower, style, className: "lower") + ", " + number(interval.upper, style, className: "upper") + "]"))
        }
        let label = metric.displayName + (metric.higherIsBetter ? " ↑" : " ↓")
        return Markup.element("tr", [("data-metric", metric.name)], Markup.text("th", [], label) + cells.joined())
    }

    /// The number style of `metric` everywhere on the page (tables, charts, differences), from
    /// all models' estimates of it, or their split values when there is no estimate.
    func style(for metric: Metric) -> NumberText.Style {
        let results = models.flatMap(\.metrics).filter { $0.metric == metric }
        let estimates = results.compactMap(\.interval?.estimate)
        return NumberText.style(for: metric, values: estimates.isEmpty ? results.flatMap(\.splits).compactMap(\.value) : estimates)
    }

    /// A `<span>` holding `value` rounded in `style`, its exact value in `data-value`.
    func number(_ value: Double, _ style: NumberText.Style, className: String, signed: Bool = false) -> String {
        let text = signed ? NumberText.signed(value, style) : NumberText.format(value, style)
        let exact = value.isFinite ? "\(value)" : "none"
        return Markup.text("span", [("class", className), ("data-value", exact)], text)
    }

    /// For each comparison a heading "first − second", its differences table and, for
    /// classification, McNemar's test; nil without comparisons.
    var comparisonsSection: String? {
        guard !comparisons.isEmpty else { return nil }
        let blocks = comparisons.map { comparison in
            Markup.element("h3", [("class", "comparison")], comparisonLabel(comparison)) + differencesTable(comparison)
                + (comparison.mcNemar.map { mcNemarTable($0) } ?? "")
        }
        return section(
            id: "comparisons", title: "Paired comparisons",
            note: "Difference first − second on the same examples, with its paired percentile bootstrap interval and two-sided p-value "
                + "(the same resamples for both models). McNemar's test counts only the examples on which the two models disagree.",
            blocks.joined())
    }

    func comparisonLabel(_ comparison: ModelComparison) -> String {
        Markup.escaped(comparison.first) + " − " + Markup.escaped(comparison.second)
    }

    func differencesTable(_ comparison: ModelComparison) -> String {
        let header = Markup.element(
            "tr", [],
            ["metric", "difference", "interval", "excludes 0", "p (bootstrap)"].enumerated().map { index, title in
                Markup.text("th", index >= 1 ? [("class", "num")] : [], title)
            }.joined())
        let rows = comparison.differences.map { differenceRow($0) }
        return Markup.element(
            "table", [("class", "differences")], Markup.element("thead", [], header) + Markup.element("tbody", [], rows.joined()))
    }

    func differenceRow(_ difference: MetricDifference) -> String {
        let lead = Markup.text("td", [], difference.metric.displayName)
        guard let result = difference.result else {
            return Markup.element(
                "tr", [("class", "unavailable")],
                lead + Markup.text("td", [("class", "num"), ("colspan", "4")], "\(NumberText.missing) \(difference.unavailable ?? "not computed")"))
        }
        let style = style(for: difference.metric)
        let excludesZero = result.lower > 0 || result.upper < 0
        let cells = [
            Markup.element("td", [("class", "num")], number(result.difference, style, className: "difference", signed: true)),
            Markup.element(
                "td", [("class", "num")],
                "[" + number(result.lower, style, className: "lower", signed: true) + ", "
                    + number(result.upper, style, className: "upper", signed: true) + "]"),
            Markup.text("td", [("class", excludesZero ? "num yes" : "num")], excludesZero ? "yes" : "no"),
            Markup.element("td", [("class", "num")], pValue(result.pValue)),
        ]
        return Markup.element("tr", [("data-metric", difference.metric.name)], lead + cells.joined())
    }

    func mcNemarTable(_ test: McNemarResult) -> String {
        let header = Markup.element(
            "tr", [],
            ["test", "b: first alone right", "c: second alone right", "discordant b + c", "exact p"]
                .enumerated().map { index, title in Markup.text("th", index >= 1 ? [("class", "num")] : [], title) }.joined())
        let cells = [
            Markup.text("td", [], "McNemar, exact (accuracy)"),
            Markup.text("td", [("class", "num b")], "\(test.firstOnlyCorrect)"),
            Markup.text("td", [("class", "num c")], "\(test.secondOnlyCorrect)"),
            Markup.text("td", [("class", "num")], "\(test.firstOnlyCorrect + test.secondOnlyCorrect)"),
            Markup.element("td", [("class", "num")], pValue(test.pValue)),
        ]
        return Markup.element(
            "table", [("class", "mcnemar")],
            Markup.element("thead", [], header) + Markup.element("tbody", [], Markup.element("tr", [], cells.joined())))
    }

    func pValue(_ p: Double) -> String {
        Markup.text("span", [("class", "p"), ("data-value", p.isFinite ? "\(p)" : "none")], NumberText.pValue(p))
    }

    /// A small square of a model's colour, tying table columns to chart colours.
    func swatch(_ color: String) -> String {
        Markup.element("span", [("class", "swatch"), ("style", "background:\(color)")], "")
    }
}
