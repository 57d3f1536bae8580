import Testing

@testable import KibanEval

/// Seeded percentile bootstrap, paired differences and McNemar's test.
@Suite struct BootstrapTests {
    /// 300 examples; model `strong` is right on ~85 %, `weak` on ~70 %, with scores for AUROC.
    static func models(seed: UInt64) -> (strong: Predictions, weak: Predictions) {
        var generator = SplitMix64(seed: seed)
        let labels = (0..<300).map { _ in generator.index(below: 2) }
        func model(_ accuracy: Double) -> Predictions {
            let predicted = labels.map { generator.unitInterval() < accuracy ? $0 : 1 - $0 }
            let scores = predicted.map { Double($0) * 0.5 + generator.unitInterval() * 0.6 }
            return .classification(labels: labels, predicted: predicted, positiveScores: scores)
        }
        return (model(0.85), model(0.7))
    }

    @Test func splitMix64MatchesTheReferenceStream() {
        var generator = SplitMix64(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var bounded = SplitMix64(seed: 1)
        let draws = (0..<10_000).map { _ in bounded.index(below: 3) }
        #expect(Set(draws) == [0, 1, 2])
    }

    @Test func percentilesInterpolateLinearly() {
        let (lower, upper) = Bootstrap.percentiles((0...100).reversed().map(Double.init), confidence: 0.5)
        #expect(lower == 25 && upper == 75)
        let (between, top) = Bootstrap.percentiles([0, 10], confidence: 0.5)
        #expect(between == 2.5 && top == 7.5)
    }

    @Test func sameSeedSameIntervalOtherSeedAnother() throws {
        let (strong, _) = Self.models(seed: 3)
        let first = try Bootstrap.interval(metric: .auroc, predictions: strong, seed: 42)
        let again = try Bootstrap.interval(metric: .auroc, predictions: strong, seed: 42)
        let other = try Bootstrap.interval(metric: .auroc, predictions: strong, seed: 43)
        #expect(first == again)
        #expect(first.lower != other.lower || first.upper != other.upper)
        #expect(first.estimate == (try Metric.auroc.value(of: strong)))
        #expect(first.lower < first.estimate && first.estimate < first.upper)
        #expect(first.upper - first.lower < 0.15 && first.degenerateResamples == 0)
    }

    @Test func degenerateResamplesAreSkippedThenRefused() throws {
        let rare = Predictions.classification(
            labels: [1] + Array(repeating: 0, count: 19), predicted: Array(repeating: 0, count: 20),
            positiveScores: (0..<20).map { Double($0) / 20 })
        // P(a resample of 20 misses the one positive) = (19/20)^20 ≈ 0.36: skipped, counted.
        let interval = try Bootstrap.interval(metric: .auroc, predictions: rare, resamples: 500, seed: 1)
        #expect(interval.degenerateResamples > 120 && interval.degenerateResamples < 240)
        let failsOnResamples = { (indices: [Int]) throws -> Double in
            guard indices == Array(0..<6) else { throw MetricError("not the full set") }
            return 1
        }
        #expect(throws: MetricError("bootstrap: the metric failed on 10 of 10 resamples (last: not the full set)")) {
            try Bootstrap.interval(exampleCount: 6, resamples: 10, seed: 5, statistic: failsOnResamples)
        }
    }

    @Test func pairedDifferenceSeparatesModelsAndNotAModelFromItself() throws {
        let (strong, weak) = Self.models(seed: 9)
        let better = try Bootstrap.pairedDifference(metric: .accuracy, first: strong, second: weak, seed: 4)
        #expect(better.difference == (try Metric.accuracy.value(of: strong)) - (try Metric.accuracy.value(of: weak)))
        #expect(better.lower > 0 && better.upper > better.lower)
        #expect(better.pValue < 0.01, "a 15-point gap on 300 examples is about 4 standard errors")
        let reversed = try Bootstrap.pairedDifference(metric: .accuracy, first: weak, second: strong, seed: 4)
        #expect(reversed.difference == -better.difference && reversed.pValue == better.pValue)
        #expect(abs(reversed.lower + better.upper) < 1e-12 && abs(reversed.upper + better.lower) < 1e-12)
        let same = try Bootstrap.pairedDifference(metric: .auroc, first: strong, second: strong, seed: 4)
        #expect(same.difference == 0 && same.lower == 0 && same.upper == 0 && same.pValue == 1)
    }

    @Test func pairedPValueCountsTheOtherSideOfZero() throws {
        // Two models differing on 4 of 40 examples, 3 to 1: a small, uncertain difference.
        let labels = Array(repeating: 1, count: 40)
        let first = Predictions.classification(labels: labels, predicted: [0] + Array(repeating: 1, count: 39), positiveScores: nil)
        let second = Predictions.classification(
            labels: labels, predicted: [1, 0, 0, 0] + Array(repeating: 1, count: 36), positiveScores: nil)
        let result = try Bootstrap.pairedDifference(metric: .accuracy, first: first, second: second, resamples: 2000, seed: 11)
        #expect(abs(result.difference - 0.05) < 1e-15)
        var generator = SplitMix64(seed: 11)
        var contradicting = 0
        for _ in 0..<2000 {
            let indices = (0..<40).map { _ in generator.index(below: 40) }
            let difference = Double(indices.filter { $0 == 0 }.count) * -1 + Double(indices.filter { (1...3).contains($0) }.count)
            if difference <= 0 { contradicting += 1 }
        }
        #expect(result.pValue == min(1, 2 * Double(contradicting + 1) / 2001))
        #expect(result.pValue > 0.1 && result.pValue < 1)
    }

    @Test func perplexityIntervalIsARatioOverExamples() throws {
        let predictions = Predictions.languageModel(negativeLogLikelihoods: [10, 30, 24, 8], tokenCounts: [5, 10, 12, 4])
        let interval = try Bootstrap.interval(metric: .perplexity, predictions: predictions, resamples: 200, seed: 2)
        #expect(interval.estimate == (try Metric.perplexity(negativeLogLikelihood: 72, tokenCount: 31)))
        #expect(interval.lower <= interval.estimate && interval.estimate <= interval.upper)
    }

    @Test func mcNemarCountsDiscordantPairs() throws {
        let first = [true, true, true, false, true, false, true, true]
        let second = [true, false, false, false, false, true, false, true]
        let result = try McNemar.exactTest(firstCorrect: first, secondCorrect: second)
        #expect(result.firstOnlyCorrect == 4 && result.secondOnlyCorrect == 1)
        #expect(result.pValue == 0.375, "2 · (1 + 5) / 32")
        #expect(McNemar.exactPValue(firstOnlyCorrect: 1, secondOnlyCorrect: 4) == result.pValue)
        #expect(McNemar.exactPValue(firstOnlyCorrect: 0, secondOnlyCorrect: 0) == 1)
        #expect(McNemar.exactPValue(firstOnlyCorrect: 0, secondOnlyCorrect: 1000) == 0x1p-999, "2 · 2⁻¹⁰⁰⁰")
        #expect(McNemar.exactPValue(firstOnlyCorrect: 40, secondOnlyCorrect: 1100) > 0, "≈ 2⁻⁸⁸⁴, though 2⁻¹¹⁴⁰ alone underflows")
    }
}
