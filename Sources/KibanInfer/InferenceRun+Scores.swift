import Foundation
import KibanModels
import KibanTensor

// Dim legend: B masked copies per batch, T tokens, C hidden size, V vocabulary.

extension InferenceRun {
    /// One masked copy: a sequence (or window) with one position replaced by the mask token.
    struct MaskedCopy {
        let tokens: [Int]
        let position: Int
        let original: Int
    }

    /// The masked copies that score every residue of `tokens` (special tokens excluded): for an
    /// over-long sequence under the window policy, each position is masked in the window where it
    /// is most central.
    func maskedCopies(_ tokens: [Int]) -> [MaskedCopy] {
        let maskID = model.maskTokenID!
        let plan = tokens.count > limit ? WindowPlan(innerCount: tokens.count - 2, limit: limit) : nil
        return (1..<(tokens.count - 1)).map { position in
            var context = tokens, local = position
            if let plan {
                let window = plan.mostCentralWindow(for: position - 1)
                context = plan.window(window, of: tokens)
                local = position - plan.starts[window]
            }
            context[local] = maskID
            return MaskedCopy(tokens: context, position: local, original: tokens[position])
        }
    }

    /// log p(original | copy) for each copy, in the copies' order: copies are run in
    /// length-sorted batches, and the masked-LM head is applied at the masked positions only.
    func maskedLogProbabilities(_ copies: [MaskedCopy]) -> [Double] {
        let encoder = model.encoder!, maskedLM = model.maskedLM!
        let last = encoder.hiddenLayerCount, width = encoder.hiddenWidth
        let order = copies.indices.sorted { (copies[$0].tokens.count, $0) < (copies[$1].tokens.count, $1) }
        var results = [Double](repeating: 0, count: copies.count)
        for batch in options.batching.batches(order.map { copies[$0].tokens.count }) {
            let members = batch.map { order[$0] }
            let longest = members.map { copies[$0].tokens.count }.max()!
            var ids: [Int] = [], mask: [Float] = []
            for member in members {
                let tokens = copies[member].tokens
                ids += tokens + Array(repeating: model.padID, count: longest - tokens.count)
                mask += Array(repeating: 1, count: tokens.count) + Array(repeating: 0, count: longest - tokens.count)
            }
            let shape = [members.count, longest]
            // logits: (B, 1, V) at the masked positions
            let logits = withNoGrad { () -> [Float] in
                let hidden = encoder.hiddenStates(IndexTensor(shape: shape, values: ids), attentionMask: Tensor(shape: shape, values: mask),
                                                  layers: [last])[last]!.toArray()
                var rows: [Float] = []
                for (row, member) in members.enumerated() {
                    let start = (row * longest + copies[member].position) * width
                    rows += hidden[start..<(start + width)]
                }
                return maskedLM.logits(fromHidden: Tensor(shape: [members.count, 1, width], values: rows)).toArray()
            }
            let vocabulary = logits.count / members.count
            for (row, member) in members.enumerated() {
                let scores = logits[(row * vocabulary)..<((row + 1) * vocabulary)]
                results[member] = Self.logSoftmax(scores, at: copies[member].original)
            }
        }
        return results
    }

    /// log softmax(scores)[index], in Double.
    static func logSoftmax(_ scores: ArraySlice<Float>, at index: Int) -> Double {
        let top = Double(scores.max()!)
        let total = scores.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) }
        return Double(scores[scores.startIndex + index]) - top - Foundation.log(total)
    }

    /// The scores row of one record: residues, pseudo-log-likelihood Σ log p(x_i | x without x_i)
    /// and pseudo-perplexity exp(−PLL / residues).
    func pseudoLikelihoodRow(_ prepared: PreparedRecord) throws -> (id: String, values: [TableWriter.Value]) {
        let logProbabilities = maskedLogProbabilities(maskedCopies(prepared.tokens))
        let total = logProbabilities.reduce(0, +)
        let count = logProbabilities.count
        return (prepared.record.id, [.integer(count), .number(total), .number(Foundation.exp(-total / Double(max(count, 1))))])
    }
}
