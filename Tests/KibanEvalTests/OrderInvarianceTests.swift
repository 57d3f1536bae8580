import Testing

@testable import KibanEval

/// Shuffling the examples gives bit-identical metrics and curves (tied scores and values included).
@Suite struct OrderInvarianceTests {
    /// A Fisher–Yates permutation of 0..<count from `seed`.
    func permutation(_ count: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64(seed: seed)
        var order = Array(0..<count)
        for index in stride(from: count - 1, to: 0, by: -1) { order.swapAt(index, generator.index(below: index + 1)) }
        return order
    }

    func expectBitIdentical(_ first: [Double], _ second: [Double], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(first.map(\.bitPattern) == second.map(\.bitPattern), "\(what): \(first) vs \(second)", sourceLocation: sourceLocation)
    }

    func classificationValues(_ labels: [Int], _ predicted: [Int]) throws -> [Double] {
        [
            try Metric.accuracy(labels: labels, predicted: predicted), try Metric.balancedAccuracy(labels: labels, predicted: predicted),
            try Metric.macroF1(labels: labels, predicted: predicted), try Metric.matthewsCorrelation(labels: labels, predicted: predicted),
        ]
    }

    func rankingValues(_ labels: [Int], _ scores: [Double]) throws -> [Double] {
        let roc = try Metric.rocCurve(labels: labels, scores: scores)
        let pr = try Metric.precisionRecallCurve(labels: labels, scores: scores)
        return [try Metric.auroc(labels: labels, scores: scores), try Metric.averagePrecision(labels: labels, scores: scores)]
            + roc.falsePositiveRates + roc.truePositiveRates + roc.thresholds + pr.precisions + pr.recalls + pr.thresholds
    }

    func regressionValues(_ targets: [Double], _ predicted: [Double]) throws -> [Double] {
        [
            try Metric.meanAbsoluteError(targets: targets, predicted: predicted),
            try Metric.rootMeanSquaredError(targets: targets, predicted: predicted),
            try Metric.coefficientOfDetermination(targets: targets, predicted: predicted),
            try Metric.pearson(targets, predicted), try Metric.spearman(targets, predicted),
        ]
    }

    @Test func fixtureCasesShuffled() throws {
        let fixture = try MetricFixture.load()
        for (seed, item) in fixture.classification.enumerated() {
            let order = permutation(item.labels.count, seed: UInt64(seed))
            expectBitIdentical(
                try classificationValues(item.labels, item.predicted),
                try classificationValues(order.map { item.labels[$0] }, order.map { item.predicted[$0] }), item.name)
        }
        for (seed, item) in fixture.ranking.enumerated() {
            let order = permutation(item.labels.count, seed: UInt64(seed))
            expectBitIdentical(
                try rankingValues(item.labels, item.scores), try rankingValues(order.map { item.labels[$0] }, order.map { item.scores[$0] }),
                item.name)
        }
        for (seed, item) in fixture.regression.enumerated() {
            let order = permutation(item.targets.count, seed: UInt64(seed))
            expectBitIdentical(
                try regressionValues(item.targets, item.predicted),
                try regressionValues(order.map { item.targets[$0] }, order.map { item.predicted[$0] }), item.name)
        }
    }

    /// Values spanning twelve orders of magnitude, where adding in a different order changes the
    /// rounded sum.
    @Test func wideRangeRegressionShuffled() throws {
        var generator = SplitMix64(seed: 7)
        let targets = (0..<1000).map { _ in (generator.unitInterval() - 0.5) * pow10(generator.index(below: 12)) }
        let predicted = targets.map { $0 * (0.5 + generator.unitInterval()) + generator.unitInterval() }
        let order = permutation(1000, seed: 8)
        let shuffledTargets = order.map { targets[$0] }
        let shuffledPredicted = order.map { predicted[$0] }
        #expect(shuffledTargets.reduce(0, +) != targets.reduce(0, +), "plain summation must depend on order here, or the test shows nothing")
        expectBitIdentical(try regressionValues(targets, predicted), try regressionValues(shuffledTargets, shuffledPredicted), "wide range")
    }

    func pow10(_ exponent: Int) -> Double { (0..<exponent).reduce(1) { value, _ in value * 10 } }
}
