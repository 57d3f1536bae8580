import Foundation
import KibanTensor

// Dim legend: V vocabulary. Everything here works on one row of logits (V), in Double.

/// Picks each next token from a row of logits, as Hugging Face's `generate` does.
///
/// Greedy (temperature 0): the argmax, the lowest id among equal logits. Sampling:
/// 1. temperature: logits / temperature (`TemperatureLogitsWarper`);
/// 2. top-k: tokens whose logit is below the k-th largest are removed (`TopKLogitsWarper`; ties
///    with the k-th are kept);
/// 3. top-p: with the tokens sorted by ascending logit, those whose cumulative probability is
///    ≤ 1 − p are removed, the most likely token always stays (`TopPLogitsWarper`); among equal
///    logits the lower id sorts first and is removed first, as `torch.sort` orders them there;
/// 4. one draw from the softmax of the remaining logits: a uniform u in [0, 1) from 53 bits of the
///    seeded ``RandomGenerator``, and the first token in id order whose cumulative probability
///    exceeds u.
/// The sampler keeps its generator between calls, so one sampler draws a whole reproducible sequence.
public final class TokenSampler {
    /// The options whose temperature, topK, topP and seed it applies.
    public let options: GenerationOptions
    let generator: RandomGenerator

    /// A sampler whose generator starts from `options.seed`.
    public init(options: GenerationOptions) {
        self.options = options
        generator = RandomGenerator(seed: options.seed)
    }

    /// logits: (V) → the next token id.
    public func next(logits: [Float]) -> Int {
        if options.isGreedy { return Self.argmax(logits) }
        let probabilities = probabilities(logits: logits)
        let u = Double(generator.next() >> 11) * 0x1p-53
        var cumulative = 0.0
        for (token, probability) in probabilities.enumerated() where probability > 0 {
            cumulative += probability
            if u < cumulative { return token }
        }
        return probabilities.lastIndex { $0 > 0 } ?? Self.argmax(logits)
    }

    /// logits: (V) → the distribution a sampled token is drawn from (V): temperature, top-k and
    /// top-p applied, 0 for every removed token. At temperature 0, all mass on the argmax.
    public func probabilities(logits: [Float]) -> [Double] {
        if options.isGreedy {
            var oneHot = [Double](repeating: 0, count: logits.count)
            if !logits.isEmpty { oneHot[Self.argmax(logits)] = 1 }
            return oneHot
        }
        var scores = logits.map { Double($0) / Double(options.temperature) }
        if options.topK > 0, options.topK < scores.count { Self.keepTopK(&scores, options.topK) }
        if options.topP < 1 { Self.keepNucleus(&scores, Double(options.topP)) }
        return Self.softmax(scores)
    }

    /// The index of the largest value, the lowest one among ties (as `torch.argmax`).
    static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for index in values.indices.dropFirst() where values[index] > values[best] { best = index }
        return best
    }

    /// Sets every score below the k-th largest to −∞.
    static func keepTopK(_ scores: inout [Double], _ k: Int) {
        let threshold = scores.sorted(by: >)[k - 1]
        for index in scores.indices where scores[index] < threshold { scores[index] = -.infinity }
    }

    /// Sets to −∞ the least likely tokens whose cumulative probability stays ≤ 1 − p, keeping the
    /// most likely token whatever p is.
    static func keepNucleus(_ scores: inout [Double], _ p: Double) {
        let probabilities = softmax(scores)
        let ascending = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
        var cumulative = 0.0
        for token in ascending.dropLast() {
            cumulative += probabilities[token]
            guard cumulative <= 1 - p else { break }
            scores[token] = -.infinity
        }
    }

    /// exp(x − max) / Σ exp(x − max); −∞ scores get probability 0.
    static func softmax(_ scores: [Double]) -> [Double] {
        let largest = scores.max() ?? 0
        let exponentials = scores.map { exp($0 - largest) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { $0 / total }
    }
}
