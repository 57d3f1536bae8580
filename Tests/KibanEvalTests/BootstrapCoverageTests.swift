import Foundation
import Testing

@testable import KibanEval

/// The 95 % percentile bootstrap interval covers the true value about 95 % of the time on data
/// drawn from a known distribution.
///
/// Each test draws D = 400 independent seeded datasets. If the true coverage is 0.95, the observed
/// share has standard deviation √(0.95 · 0.05 / 400) ≈ 0.0109, so [0.90, 0.98] spans −4.6σ to
/// +2.75σ around 0.95. The lower side is wider because the percentile bootstrap is known to
/// under-cover slightly at these sample sizes (by about a point); an interval of the wrong width
/// (say the 80 % or 99.9 % quantiles) lands far outside. Sizes are kept small (n = 200 with 1000
/// resamples for accuracy; n = 100 with 500 resamples for MAE, whose sort-based sums cost more)
/// so that both finish in about a second in a release build.
@Suite struct BootstrapCoverageTests {
    static let datasets = 400
    static let acceptedCoverage = 0.90...0.98

    @Test func accuracyOfBernoulliCorrectFlags() throws {
        let truth = 0.8
        var data = SplitMix64(seed: 2024)
        var covered = 0
        for dataset in 0..<Self.datasets {
            let correct = (0..<200).map { _ in data.unitInterval() < truth ? 1 : 0 }
            let predictions = Predictions.classification(labels: correct, predicted: Array(repeating: 1, count: 200), positiveScores: nil)
            let interval = try Bootstrap.interval(metric: .accuracy, predictions: predictions, seed: UInt64(dataset))
            if interval.lower <= truth && truth <= interval.upper { covered += 1 }
        }
        let coverage = Double(covered) / Double(Self.datasets)
        print("accuracy: \(covered) of \(Self.datasets) intervals cover \(truth) (\(coverage))")
        #expect(Self.acceptedCoverage.contains(coverage), "coverage \(coverage)")
    }

    @Test func meanAbsoluteErrorOfNormalErrors() throws {
        let truth = (2 / Double.pi).squareRoot()  // E|e| for e ~ N(0, 1)
        var data = SplitMix64(seed: 2025)
        var covered = 0
        for dataset in 0..<Self.datasets {
            let errors = (0..<100).map { _ in
                (-2 * log(1 - data.unitInterval())).squareRoot() * cos(2 * Double.pi * data.unitInterval())
            }
            let predictions = Predictions.regression(targets: Array(repeating: 0, count: 100), predicted: errors)
            let interval = try Bootstrap.interval(metric: .mae, predictions: predictions, resamples: 500, seed: UInt64(dataset))
            if interval.lower <= truth && truth <= interval.upper { covered += 1 }
        }
        let coverage = Double(covered) / Double(Self.datasets)
        print("mae: \(covered) of \(Self.datasets) intervals cover \(truth) (\(coverage))")
        #expect(Self.acceptedCoverage.contains(coverage), "coverage \(coverage)")
    }
}
