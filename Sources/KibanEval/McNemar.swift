/// McNemar's exact test for two models' accuracy on the same examples.
///
/// Only discordant examples count: b where the first model alone is right, c where the second
/// alone is. Under "equal accuracy" b ~ Binomial(b + c, ½), and the two-sided p-value is
///
///     p = min(1, 2 · Σ_{k=0}^{min(b,c)} C(b+c, k) / 2^{b+c}),
///
/// which equals `scipy.stats.binomtest(b, b + c, 0.5).pvalue` (for p = ½ the binomial is
/// symmetric, so scipy's "outcomes no more likely than b" is the doubled smaller tail; b = c
/// gives 1). With no discordant examples the models cannot be told apart and p = 1 (scipy refuses
/// n = 0).
public enum McNemar {
    /// The test from per-example correctness of each model; throws for empty or mismatched inputs.
    public static func exactTest(firstCorrect: [Bool], secondCorrect: [Bool]) throws -> McNemarResult {
        try Metric.requireMatchingCounts("mcnemar", firstCorrect.count, secondCorrect.count)
        let firstOnly = zip(firstCorrect, secondCorrect).filter { $0 && !$1 }.count
        let secondOnly = zip(firstCorrect, secondCorrect).filter { !$0 && $1 }.count
        return McNemarResult(
            firstOnlyCorrect: firstOnly, secondOnlyCorrect: secondOnly,
            pValue: exactPValue(firstOnlyCorrect: firstOnly, secondOnlyCorrect: secondOnly))
    }

    /// The two-sided exact p-value from the discordant counts b and c (both ≥ 0).
    ///
    /// The largest tail term C(n, m)/2ⁿ (m = min(b, c), n = b + c) is built as a product of m
    /// ratios, renormalised to a [1, 2) significand and a separate binary exponent after every
    /// factor so that neither C(n, m) nor 2⁻ⁿ overflows; the smaller terms follow by the ratio
    /// C(n, k−1)/C(n, k) = k/(n − k + 1) and are added smallest first.
    public static func exactPValue(firstOnlyCorrect: Int, secondOnlyCorrect: Int) -> Double {
        let total = firstOnlyCorrect + secondOnlyCorrect
        let smaller = min(firstOnlyCorrect, secondOnlyCorrect)
        guard 2 * smaller < total else { return 1 }
        var significand = 1.0
        var exponent = -total
        for step in stride(from: 1, through: smaller, by: 1) {
            significand *= Double(total - smaller + step) / Double(step)
            exponent += Int(significand.exponent)
            significand = significand.significand
        }
        var ratios = [1.0]
        for k in stride(from: smaller, to: 0, by: -1) {
            ratios.append(ratios.last! * Double(k) / Double(total - k + 1))
        }
        let tail = ratios.reversed().reduce(0, +)
        return min(1, Double(sign: .plus, exponent: exponent + 1, significand: significand * tail))
    }
}

/// McNemar's exact test result (`McNemar.exactTest`).
public struct McNemarResult: Codable, Equatable, Sendable {
    /// Examples only the first model gets right (b).
    public let firstOnlyCorrect: Int
    /// Examples only the second model gets right (c).
    public let secondOnlyCorrect: Int
    /// Two-sided exact p-value.
    public let pValue: Double
}
