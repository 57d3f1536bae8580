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

    /// The masked copies that score `positions` of `tokens` (default: every residue, special tokens
    /// excluded): for an over-long sequence under the window policy, each position is masked in the
    /// window where it is most central.
    func maskedCopies(_ tokens: [Int], positions: [Int]? = nil) -> [MaskedCopy] {
        let maskID = model.maskTokenID!
        let plan = tokens.count > limit ? WindowPlan(innerCount: tokens.count - 2, limit: limit) : nil
        return (positions ?? Array(1..<(tokens.count - 1))).map { position in
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

    /// log p(original | copy) for each copy, in the copies' order.
    func maskedLogProbabilities(_ copies: [MaskedCopy]) -> [Double] {
        zip(maskedLogSoftmax(copies), copies).map { $0[$1.original] }
    }

    /// The log-softmax over the vocabulary at each copy's masked position, in the copies' order:
    /// copies are run in length-sorted batches, and the masked-LM head is applied at the masked
    /// positions only.
    func maskedLogSoftmax(_ copies: [MaskedCopy]) -> [[Double]] {
        let encoder = model.encoder!, maskedLM = model.maskedLM!
        let last = encoder.hiddenLayerCount, width = encoder.hiddenWidth
        let order = copies.indices.sorted { (copies[$0].tokens.count, $0) < (copies[$1].tokens.count, $1) }
        var results = [[Double]](repeating: [], count: copies.count)
        for batch in options.batching.batches(order.map { copies[$0].tokens.count }) {
            let members = batch.map { order[$0] }
            let padded = EncoderPass.pad(members.map { copies[$0].tokens }, padID: model.padID)
            let longest = padded.ids.shape[1]
            // logits: (B, 1, V) at the masked positions
            let logits = withNoGrad { () -> [Float] in
                let hidden = encoder.hiddenStates(padded.ids, attentionMask: padded.mask, layers: [last])[last]!.toArray()
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
                results[member] = Self.logSoftmax(scores)
            }
        }
        return results
    }

    /// log softmax(scores), in Double.
    static func logSoftmax(_ scores: ArraySlice<Float>) -> [Double] {
        let top = Double(scores.max()!)
        let logTotal = Foundation.log(scores.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) })
        return scores.map { Double($0) - top - logTotal }
    }

    /// The mutation-effect rows of one record (ESM-1v's masked marginals): each variant scores
    /// Σ over its mutations of log p(mutant) − log p(wild type) at the mutated position, masked in
    /// the wild-type sequence; each position is masked once however many variants share it.
    func mutationRows(_ prepared: PreparedRecord, variants: [ProteinVariant]) throws -> [(id: String, values: [TableWriter.Value])] {
        let positions = Array(Set(variants.flatMap { $0.mutations.map(\.position) })).sorted()
        let tokenID = { (residue: Character) -> Int in
            guard let id = self.model.tokenizer?.residueID(residue) else {
                throw InferenceError("\(prepared.record.location): residue '\(residue)' has no token in this model's vocabulary")
            }
            return id
        }
        // Residue p (1-based) is token p: the tokenizers put one special token first.
        let rows = maskedLogSoftmax(maskedCopies(prepared.tokens, positions: positions))
        let byPosition = Dictionary(uniqueKeysWithValues: zip(positions, rows))
        return try variants.map { variant in
            let score = try variant.mutations.reduce(0.0) { total, mutation in
                let row = byPosition[mutation.position]!
                return total + row[try tokenID(mutation.mutant)] - row[try tokenID(mutation.wildType)]
            }
            return (prepared.record.id, [.text(variant.description), .number(score)])
        }
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
