import Foundation

/// A linear axis from `lower` to `upper` with ticks every `step`, for the report's charts.
///
/// `init(covering:maximumIntervals:)` picks a "nice" step — 1, 2 or 5 times a power of ten — and
/// widens the data range outward to whole steps, so that tick labels are round numbers (0.2,
/// 0.4 …; 10, 20 …). Of the nice steps that need at most `maximumIntervals` intervals it takes
/// the one whose axis wastes least room around the data (the smaller step on a tie). A range of
/// one value is widened by 10 % of it on each side (±1 around 0); no finite value gives 0…1.
struct AxisScale: Equatable {
    let lower: Double
    let upper: Double
    let step: Double

    init(lower: Double, upper: Double, step: Double) {
        self.lower = lower
        self.upper = upper
        self.step = step
    }

    init(covering values: [Double], maximumIntervals: Int = 8) {
        let finite = values.filter(\.isFinite)
        var low = finite.min() ?? 0
        var high = finite.max() ?? 1
        if high - low == 0 || !(high - low).isFinite {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - pad, high + pad)
        }
        guard (high - low).isFinite else {
            self.init(lower: 0, upper: 1, step: 0.2)
            return
        }
        let power = pow(10, log10(high - low).rounded(.down))
        let candidates = [0.1, 0.2, 0.5, 1, 2, 5, 10].map { $0 * power }.map { step in
            AxisScale(lower: (low / step).rounded(.down) * step, upper: (high / step).rounded(.up) * step, step: step)
        }
        let fitting = candidates.filter { ($0.upper - $0.lower) / $0.step <= Double(maximumIntervals) + 1e-9 }
        self = fitting.min { ($0.upper - $0.lower, $0.step) < ($1.upper - $1.lower, $1.step) } ?? candidates.last!
    }

    /// lower, lower + step, …, upper, each computed as a whole multiple of the step (only the two
    /// ends for a step too small to count in, as for a range far from 0 and narrower than its
    /// floating-point spacing).
    var ticks: [Double] {
        let first = (lower / step).rounded()
        let last = (upper / step).rounded()
        guard last - first <= 100 else { return [lower, upper] }
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// Where `value` lies on the axis: 0 at `lower`, 1 at `upper`.
    func fraction(_ value: Double) -> Double {
        (value - lower) / (upper - lower)
    }

    /// A tick label with as many decimals as the step needs (0.2 → one, 50 → none), scientific for
    /// steps below 10⁻⁴ or ticks from 10⁶ on.
    func label(_ tick: Double) -> String {
        if step < 1e-4 || max(abs(lower), abs(upper)) >= 1e6 { return NumberText.format(tick, .scientific(1)) }
        return NumberText.format(tick, .fixed(max(0, -Int(log10(step).rounded(.down)))))
    }
}
