/// Percentile bootstrap over examples.
///
/// A resample draws n example indices uniformly with replacement from 0..<n (`SplitMix64` seeded
/// with `seed`, resample after resample, so the same seed gives the same interval on every
/// machine) and recomputes the metric on them. The interval is the (1 − c)/2 and (1 + c)/2
/// quantiles of the resampled values for confidence c, with linear interpolation between order
/// statistics (`numpy.quantile`'s default): for m sorted values v₀…v_{m−1}, the q-quantile is
/// v_⌊h⌋ + (h − ⌊h⌋)(v_⌊h⌋₊₁ − v_⌊h⌋), h = (m − 1)q.
///
/// A resample on which the metric throws (say AUROC on a resample holding one class) is skipped
/// and counted in `degenerateResamples`; more than half skipped throws a `MetricError`.
public enum Bootstrap {
    /// The percentile interval of `metric` on `predictions`; the estimate is the metric on all
    /// examples.
    public static func interval(
        metric: Metric, predictions: Predictions, resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64
    ) throws -> BootstrapInterval {
        try interval(exampleCount: predictions.count, resamples: resamples, confidence: confidence, seed: seed) { indices in
            try metric.value(of: predictions.examples(at: indices))
        }
    }

    /// The percentile interval of any statistic of the examples, given as a function of example
    /// indices: the estimate is `statistic(Array(0..<exampleCount))`, each resample
    /// `statistic(indices)`.
    public static func interval(
        exampleCount: Int, resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64,
        statistic: ([Int]) throws -> Double
    ) throws -> BootstrapInterval {
        try requireSettings(exampleCount: exampleCount, resamples: resamples, confidence: confidence)
        let estimate = try statistic(Array(0..<exampleCount))
        let values = try resampledValues(exampleCount: exampleCount, resamples: resamples, seed: seed, statistic: statistic)
        let (lower, upper) = percentiles(values, confidence: confidence)
        return BootstrapInterval(
            estimate: estimate, lower: lower, upper: upper, confidence: confidence, degenerateResamples: resamples - values.count)
    }

    /// The difference metric(first) − metric(second) of two models on the same examples, with a
    /// paired percentile interval: each resample uses the same indices for both models.
    ///
    /// The two-sided p-value for "no difference" is p = min(1, 2(k + 1)/(B + 1)), where B is the
    /// number of valid resamples and k the number of resampled differences on the other side of
    /// zero from the observed one (≤ 0 when it is positive, ≥ 0 when negative, all of them when it
    /// is 0): the share of resamples contradicting the sign, doubled, with the +1 correction that
    /// keeps p away from 0 for a finite B.
    public static func pairedDifference(
        metric: Metric, first: Predictions, second: Predictions, resamples: Int = 1000, confidence: Double = 0.95,
        seed: UInt64
    ) throws -> PairedBootstrapResult {
        guard first.count == second.count else {
            throw MetricError("paired bootstrap: \(first.count) examples for the first model but \(second.count) for the second")
        }
        return try pairedDifference(exampleCount: first.count, resamples: resamples, confidence: confidence, seed: seed) { indices in
            try metric.value(of: first.examples(at: indices)) - metric.value(of: second.examples(at: indices))
        }
    }

    /// As ``pairedDifference(metric:first:second:resamples:confidence:seed:)`` for any difference of
    /// two models' statistics, given as a function of example indices (the same indices for both).
    public static func pairedDifference(
        exampleCount: Int, resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64, difference statistic: ([Int]) throws -> Double
    ) throws -> PairedBootstrapResult {
        try requireSettings(exampleCount: exampleCount, resamples: resamples, confidence: confidence)
        let difference = try statistic(Array(0..<exampleCount))
        let values = try resampledValues(exampleCount: exampleCount, resamples: resamples, seed: seed, statistic: statistic)
        let (lower, upper) = percentiles(values, confidence: confidence)
        let contradicting = values.filter { difference > 0 ? $0 <= 0 : difference < 0 ? $0 >= 0 : true }.count
        let pValue = min(1, 2 * Double(contradicting + 1) / Double(values.count + 1))
        return PairedBootstrapResult(
            difference: difference, lower: lower, upper: upper, confidence: confidence, pValue: pValue,
            degenerateResamples: resamples - values.count)
    }

    static func requireSettings(exampleCount: Int, resamples: Int, confidence: Double) throws {
        guard exampleCount > 0 else { throw MetricError("bootstrap: empty input") }
        guard resamples > 0 else { throw MetricError("bootstrap: \(resamples) resamples; needs at least one") }
        guard confidence > 0, confidence < 1 else { throw MetricError("bootstrap: confidence \(confidence) is not in (0, 1)") }
    }

    /// The statistic on each valid resample, in draw order.
    static func resampledValues(
        exampleCount: Int, resamples: Int, seed: UInt64, statistic: ([Int]) throws -> Double
    ) throws -> [Double] {
        var generator = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var lastError: MetricError?
        for _ in 0..<resamples {
            let indices = (0..<exampleCount).map { _ in generator.index(below: exampleCount) }
            do {
                values.append(try statistic(indices))
            } catch let error as MetricError {
                lastError = error
            }
        }
        guard 2 * values.count >= resamples else {
            throw MetricError(
                "bootstrap: the metric failed on \(resamples - values.count) of \(resamples) resamples (last: \(lastError!))")
        }
        return values
    }

    /// The (1 − c)/2 and (1 + c)/2 quantiles, linearly interpolated.
    static func percentiles(_ values: [Double], confidence: Double) -> (Double, Double) {
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            let position = Double(sorted.count - 1) * q
            let below = Int(position.rounded(.down))
            let above = min(below + 1, sorted.count - 1)
            return sorted[below] + (position - Double(below)) * (sorted[above] - sorted[below])
        }
        return (quantile((1 - confidence) / 2), quantile((1 + confidence) / 2))
    }
}

/// A point estimate with its percentile bootstrap interval (`Bootstrap.interval`).
public struct BootstrapInterval: Codable, Equatable, Sendable {
    public let estimate: Double
    public let lower: Double
    public let upper: Double
    public let confidence: Double
    /// Resamples skipped because the metric threw on them.
    public let degenerateResamples: Int

    /// An interval computed elsewhere (another resampling scheme, a stored result).
    public init(estimate: Double, lower: Double, upper: Double, confidence: Double, degenerateResamples: Int = 0) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.confidence = confidence
        self.degenerateResamples = degenerateResamples
    }
}

/// A paired difference between two models, its interval and p-value (`Bootstrap.pairedDifference`).
public struct PairedBootstrapResult: Codable, Equatable, Sendable {
    /// metric(first) − metric(second) on all examples.
    public let difference: Double
    public let lower: Double
    public let upper: Double
    public let confidence: Double
    public let pValue: Double
    public let degenerateResamples: Int
}
