import Foundation

/// How the report writes numbers: fixed decimals chosen per metric, no "-0", and a dash instead of
/// NaN or ±∞ (which never reach the page as text).
enum NumberText {
    /// Shown where a number is missing or not finite.
    static let missing = "—"

    /// Fixed-point or scientific notation with a number of digits after the point.
    enum Style: Equatable {
        case fixed(Int)
        case scientific(Int)
    }

    /// `value` in `style`; a result that rounds to zero loses its minus sign.
    static func format(_ value: Double, _ style: Style) -> String {
        guard value.isFinite else { return missing }
        let text: String
        switch style {
        case .fixed(let decimals): text = String(format: "%.\(decimals)f", value)
        case .scientific(let decimals): text = String(format: "%.\(decimals)e", value)
        }
        if text.hasPrefix("-"), let rounded = Double(text), rounded == 0 { return String(text.dropFirst()) }
        return text
    }

    /// `value` with an explicit sign, for differences and their bounds ("+0.034", "-0.012", "0").
    /// A value that is not zero but would round to it gets the digits that show its sign
    /// ("+0.0003", "-2.1e-07"), so that an interval excluding 0 never reads as touching it.
    static func signed(_ value: Double, _ style: Style) -> String {
        guard value.isFinite else { return missing }
        guard value != 0 else { return format(0, style) }
        var text = format(value, style)
        if Double(text) == 0 {
            let decimals = -Int(log10(abs(value)).rounded(.down))
            text = decimals <= 6 ? format(value, .fixed(decimals)) : format(value, .scientific(1))
        }
        return text.hasPrefix("-") ? text : "+" + text
    }

    /// The style for `metric` over `values` (all the report's estimates of it): three decimals for the
    /// metrics bounded by ±1 (accuracy, F1, MCC, AUROC, AUPRC, correlations, and R², which is at
    /// most 1); for MAE, RMSE and perplexity four significant digits of the largest magnitude
    /// (at most six decimals), scientific below 10⁻³ or from 10⁶ on.
    static func style(for metric: Metric, values: [Double]) -> Style {
        switch metric {
        case .mae, .rmse, .perplexity: return style(magnitude: values.filter(\.isFinite).map(abs).max() ?? 0)
        default: return .fixed(3)
        }
    }

    /// Four significant digits of `magnitude` (≥ 0).
    static func style(magnitude: Double) -> Style {
        guard magnitude > 0 else { return .fixed(3) }
        if magnitude < 1e-3 || magnitude >= 1e6 { return .scientific(3) }
        return .fixed(min(6, max(0, 3 - Int(log10(magnitude).rounded(.down)))))
    }

    /// A p-value: two decimals from 0.1, three from 0.001, else scientific with two digits ("3.1e-12").
    static func pValue(_ p: Double) -> String {
        guard p.isFinite else { return missing }
        if p >= 0.1 { return format(p, .fixed(2)) }
        if p >= 0.001 { return format(p, .fixed(3)) }
        return format(p, .scientific(1))
    }

    /// An SVG coordinate in pixels, to 0.1 px.
    static func coordinate(_ value: Double) -> String {
        format(value, .fixed(1))
    }
}
