import Foundation
import KibanTensor

// Dim legend: B masked copies in one forward pass (≤ maxBatch), T tokens, V vocabulary,
// P scored positions.

/// Scores one tokenized sequence with a masked language model (ESM-2, BERT, ProtBERT) by masking
/// one position at a time.
///
/// For each scored position p, a copy of the sequence with only p replaced by the mask token goes
/// through the model, and the log-softmax of the logits at p is that position's masked marginal,
/// log p(· | x with p masked). Copies run `maxBatch` at a time, and each row is computed in Double
/// from its own copy's logits, so `maxBatch` changes nothing but what the model's forward pass
/// itself changes with the batch size: none for a model that treats batch rows independently;
/// float32 rounding (~1e-7 here) for Kiban's models, because OpenBLAS's sgemm rounds a row
/// differently as the number of rows changes.
///
/// ```swift
/// model.eval()
/// let scorer = MaskedLMScorer(maskTokenID: 32, maxBatch: 16) { model($0, attentionMask: $1) }
/// let score = try scorer.pseudoLikelihood(tokens: ids, specialTokens: [0, 1, 2])
/// ```
public struct MaskedLMScorer {
    /// ids: (B, T); attentionMask: (B, T) of 1/0 (all ones here) → logits (B, T, V). Put the
    /// model in evaluation mode first, or dropout makes the scores random.
    public typealias Model = (_ ids: IndexTensor, _ attentionMask: Tensor) -> Tensor

    /// The network.
    public let model: Model
    /// The id that hides a position (`<mask>` 32 for ESM-2, `[MASK]` for BERT).
    public let maskTokenID: Int
    /// The most masked copies per forward pass.
    public let maxBatch: Int

    /// A scorer running `model` on at most `maxBatch` masked copies at once.
    ///
    /// - Precondition: `maxBatch >= 1`.
    public init(maskTokenID: Int, maxBatch: Int = 16, model: @escaping Model) {
        precondition(maxBatch >= 1, "MaskedLMScorer: maxBatch \(maxBatch) must be at least 1")
        self.model = model
        self.maskTokenID = maskTokenID
        self.maxBatch = maxBatch
    }

    /// The masked marginals at `positions`: row i is the log-softmax over the vocabulary at
    /// `positions[i]` with only that position masked, (P, V).
    ///
    /// - Parameters:
    ///   - tokens: the whole tokenized sequence (T), special tokens included.
    ///   - positions: token indices into `tokens`.
    /// - Throws: ``ScoringError`` for an empty sequence, no positions or a position outside the sequence.
    public func maskedMarginals(tokens: [Int], positions: [Int]) throws(ScoringError) -> Tensor {
        guard !positions.isEmpty else { throw ScoringError("no positions to score") }
        var rows: [Float] = []
        var vocabulary = 0
        try forEachMarginal(tokens: tokens, positions: positions) { _, row in
            vocabulary = row.count
            rows += row.map(Float.init)
        }
        return Tensor(shape: [positions.count, vocabulary], values: rows)
    }

    /// The pseudo-log-likelihood of `tokens`: Σ log p(x_p | x with p masked) over every position
    /// whose token is not in `specialTokens`.
    ///
    /// - Parameter specialTokens: ids never scored (ESM-2: `<cls>` 0, `<pad>` 1, `<eos>` 2).
    /// - Throws: ``ScoringError`` when no position is left to score.
    public func pseudoLikelihood(tokens: [Int], specialTokens: Set<Int>) throws(ScoringError) -> PseudoLikelihood {
        let positions = tokens.indices.filter { !specialTokens.contains(tokens[$0]) }
        guard !positions.isEmpty else { throw ScoringError("the sequence has no token outside the special tokens") }
        var logProbabilities = [Double](repeating: 0, count: positions.count)
        try forEachMarginal(tokens: tokens, positions: positions) { index, row in
            logProbabilities[index] = row[tokens[positions[index]]]
        }
        return PseudoLikelihood(positions: positions, logProbabilities: logProbabilities)
    }

    /// Calls `body(i, row)` with the masked marginal (V, in Double) at `positions[i]`, for every i
    /// in order. Row i depends only on `tokens` and `positions[i]`.
    func forEachMarginal(
        tokens: [Int], positions: [Int], _ body: (Int, [Double]) -> Void
    ) throws(ScoringError) {
        guard !tokens.isEmpty else { throw ScoringError("the sequence is empty") }
        if let outside = positions.first(where: { !tokens.indices.contains($0) }) {
            throw ScoringError("position \(outside) is outside the sequence's \(tokens.count) tokens")
        }
        let length = tokens.count
        for start in stride(from: 0, to: positions.count, by: maxBatch) {
            let chunk = Array(positions[start..<min(start + maxBatch, positions.count)])
            var ids: [Int] = []
            for position in chunk {
                var copy = tokens
                copy[position] = maskTokenID
                ids += copy
            }
            let logits = withNoGrad {
                model(IndexTensor(shape: [chunk.count, length], values: ids), Tensor.ones([chunk.count, length]))
            }
            for (offset, position) in chunk.enumerated() {
                // logits: (B, T, V) → copy `offset`'s row at its masked position (V).
                let row = logits.sliced(axis: 0, offset..<(offset + 1)).sliced(axis: 1, position..<(position + 1))
                body(start + offset, Self.logSoftmax(row.toArray()))
            }
        }
    }

    /// log(softmax(x)) of one row, in Double: x − max − log Σ exp(x − max).
    static func logSoftmax(_ logits: [Float]) -> [Double] {
        let values = logits.map(Double.init)
        let largest = values.max() ?? 0
        let logTotal = log(values.reduce(0) { $0 + exp($1 - largest) })
        return values.map { $0 - largest - logTotal }
    }
}

/// A sequence's pseudo-log-likelihood, position by position.
public struct PseudoLikelihood: Sendable, Equatable {
    /// The scored token positions, ascending.
    public let positions: [Int]
    /// log p(x_p | x with p masked) at each of `positions`.
    public let logProbabilities: [Double]

    /// PLL = Σ log p(x_p | x with p masked).
    public var logLikelihood: Double { logProbabilities.reduce(0, +) }

    /// exp(−PLL / n) over the n scored positions.
    public var pseudoPerplexity: Double { exp(-logLikelihood / Double(positions.count)) }
}

/// Scoring that cannot run: an empty sequence, a position outside it, nothing to score.
public struct ScoringError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, in words.
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "masked-LM scoring: \(message)" }
}
