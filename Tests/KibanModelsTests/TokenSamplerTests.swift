import Foundation
import KibanModels
import KibanTestSupport
import Testing

/// `generation.json`'s rows for transformers' top-k / top-p warpers (`make_inference_fixtures.py`).
private struct WarperReference: Decodable {
    struct Case: Decodable {
        let logits: [Float]
        let top_k: Int
        let top_p: Double
        let kept: [Int]
    }

    let warper_cases: [Case]
}

/// Logits whose softmax is exactly `probabilities` (up to one rounding of log).
private func logits(_ probabilities: [Double]) -> [Float] { probabilities.map { Float(log($0)) } }

/// The ids a distribution keeps (probability above 0).
private func kept(_ probabilities: [Double]) -> [Int] { probabilities.indices.filter { probabilities[$0] > 0 } }

private func sampler(temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) -> TokenSampler {
    TokenSampler(options: GenerationOptions(temperature: temperature, topK: topK, topP: topP, seed: seed))
}

@Suite("Token sampling (temperature, top-k, top-p)")
struct TokenSamplerTests {
    @Test func greedyTakesTheLowestIdAmongEqualMaxima() {
        let greedy = sampler(temperature: 0)
        #expect(greedy.next(logits: [0.5, 2, -1, 2, 2]) == 1)
        #expect(greedy.next(logits: [3, 3]) == 0)
        #expect(greedy.next(logits: [-.infinity, -4, -3]) == 2)
        #expect(greedy.probabilities(logits: [0.5, 2, -1, 2]) == [0, 1, 0, 0])
    }

    /// transformers' `TopKLogitsWarper` then `TopPLogitsWarper` on the rows of
    /// `generation.json`'s `warper_cases`: probabilities (0.1, 0.6, 0.3) at p from 0.01 to 0.95,
    /// four equal logits whose cumulative sums and bounds 1 − p are exact in binary (a set whose
    /// probability equals p exactly is enough; among ties the lower ids go first, and the one
    /// token always kept is the highest id), top-k ties, and top-k before top-p.
    @Test func keepsTheTokensTransformersWarpersKeep() throws {
        let url = TestData.repository.appendingPathComponent("Tests/Fixtures/generation.json")
        let cases = try JSONDecoder().decode(WarperReference.self, from: Data(contentsOf: url)).warper_cases
        #expect(cases.count == 18)
        for item in cases {
            let probabilities = sampler(topK: item.top_k, topP: Float(item.top_p)).probabilities(logits: item.logits)
            #expect(kept(probabilities) == item.kept, "top_k \(item.top_k), top_p \(item.top_p), logits \(item.logits)")
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test func topKKeepsTiesWithTheKthLogitAndRunsBeforeTopP() {
        #expect(kept(sampler(topK: 2).probabilities(logits: [1, 4, 3, 2])) == [1, 2])
        #expect(kept(sampler(topK: 2).probabilities(logits: [1, 4, 3, 3])) == [1, 2, 3])
        #expect(kept(sampler(topK: 10).probabilities(logits: [1, 4, 3, 2])) == [0, 1, 2, 3])
        // After top-k 2 of (0.1, 0.5, 0.25, 0.15) the renormalised 0.5/0.75 and 0.25/0.75
        // remain; p = 0.6 then keeps only the first (cumulative 1/3 ≤ 0.4).
        let both = sampler(topK: 2, topP: 0.6).probabilities(logits: logits([0.1, 0.5, 0.25, 0.15]))
        #expect(kept(both) == [1])
        let topKOnly = sampler(topK: 2).probabilities(logits: logits([0.1, 0.5, 0.25, 0.15]))
        #expect(abs(topKOnly[1] - 2.0 / 3) < 1e-6 && abs(topKOnly[2] - 1.0 / 3) < 1e-6)
    }

    @Test func temperatureSharpensAndFlattens() {
        let row: [Float] = [0, 1, 2]
        let cold = sampler(temperature: 0.5).probabilities(logits: row)
        let warm = sampler(temperature: 2).probabilities(logits: row)
        let exact = { (t: Double) in [0.0, 1, 2].map { exp($0 / t) / [0.0, 1, 2].map { exp($0 / t) }.reduce(0, +) } }
        #expect(zip(cold, exact(0.5)).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(warm, exact(2)).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    /// 40 000 draws from (0.1, 0.6, 0.3): each frequency within 4 standard errors, a removed token
    /// never drawn, and the same seed drawing the same sequence.
    @Test func drawsFollowTheFilteredDistribution() {
        let row = logits([0.1, 0.6, 0.3])
        let draws = 40_000
        let free = sampler(seed: 11)
        var counts = [0, 0, 0]
        for _ in 0..<draws { counts[free.next(logits: row)] += 1 }
        for (count, probability) in zip(counts, [0.1, 0.6, 0.3]) {
            let standardError = (probability * (1 - probability) / Double(draws)).squareRoot()
            #expect(abs(Double(count) / Double(draws) - probability) < 4 * standardError, "\(counts)")
        }
        let nucleus = sampler(topP: 0.65, seed: 11)
        #expect((0..<2000).allSatisfy { _ in nucleus.next(logits: row) != 0 })
        let (a, b) = (sampler(seed: 5), sampler(seed: 5))
        #expect((0..<200).map { _ in a.next(logits: row) } == (0..<200).map { _ in b.next(logits: row) })
    }
}
