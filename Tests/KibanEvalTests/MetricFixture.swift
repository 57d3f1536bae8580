import Foundation

/// `Tests/Fixtures/metrics.json` (written by `make_metric_fixtures.py`), found from this file's
/// path so that the tests need no resources and never Python.
struct MetricFixture: Decodable {
    struct Classification: Decodable {
        let name: String
        let labels: [Int]
        let predicted: [Int]
        let accuracy: Double
        let balancedAccuracy: Double
        let macroF1: Double
        let mcc: Double
        let confusionMatrix: [[Int]]
        /// Present for binary cases only.
        let f1: Double?
    }

    struct Ranking: Decodable {
        let name: String
        let labels: [Int]
        let scores: [Double]
        let auroc: Double
        let auprc: Double
        let rocFalsePositiveRates: [Double]
        let rocTruePositiveRates: [Double]
        /// `roc_curve`'s thresholds after its leading +∞.
        let rocFiniteThresholds: [Double]
        let prPrecisions: [Double]
        let prRecalls: [Double]
        let prThresholds: [Double]
    }

    struct Regression: Decodable {
        let name: String
        let targets: [Double]
        let predicted: [Double]
        let mae: Double
        let rmse: Double
        let r2: Double
        let pearson: Double
        let spearman: Double
    }

    struct Perplexity: Decodable {
        let negativeLogLikelihood: Double
        let tokenCount: Int
        let perplexity: Double
    }

    struct McNemar: Decodable {
        let firstOnlyCorrect: Int
        let secondOnlyCorrect: Int
        let pValue: Double
    }

    let classification: [Classification]
    let ranking: [Ranking]
    let regression: [Regression]
    let perplexity: [Perplexity]
    let mcnemar: [McNemar]

    static func load() throws -> MetricFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/metrics.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(MetricFixture.self, from: Data(contentsOf: url))
    }
}

/// |actual − reference| / |reference|, or |actual| itself for a zero reference.
func relativeError(_ actual: Double, _ reference: Double) -> Double {
    reference == 0 ? abs(actual) : abs(actual - reference) / abs(reference)
}

/// The largest `relativeError` over two arrays, or +∞ when their lengths differ.
func relativeError(_ actual: [Double], _ reference: [Double]) -> Double {
    guard actual.count == reference.count else { return .infinity }
    return zip(actual, reference).map { relativeError($0, $1) }.max() ?? 0
}
