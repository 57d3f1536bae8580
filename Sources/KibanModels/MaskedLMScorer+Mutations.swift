extension MaskedLMScorer {
    /// Zero-shot mutation-effect scores by ESM-1v's masked-marginal recipe: for each mutation
    /// `A23G`, log p(G at 23) − log p(A at 23) from the masked marginal of the wild-type sequence
    /// with residue 23 masked; a multi-mutant's score is the sum of its mutations' scores.
    ///
    /// Each mutated position is masked once, whatever the number of variants using it, and the
    /// copies run `maxBatch` at a time. Scores above 0 mean the model prefers the mutant.
    ///
    /// - Parameters:
    ///   - variants: parsed against the same wild-type sequence.
    ///   - wildTypeTokens: the tokenized wild-type sequence, special tokens included.
    ///   - firstResidueIndex: the token index of residue 1: 1 for ESM-2 (`<cls>` first) and
    ///     ProtBERT (`[CLS]` first), 0 for a tokenization without a leading special token.
    ///     Residue r is token `firstResidueIndex + r − 1`.
    ///   - tokenID: the token id of a residue letter (for ESM-2, `ProteinAlphabet.id(of:)`).
    /// - Returns: one score per variant, in order.
    /// - Throws: ``VariantError`` naming the variant when a residue falls outside `wildTypeTokens`,
    ///   has no token, or its wild-type token is not the one `wildTypeTokens` holds there (a wrong
    ///   offset or another sequence); ``ScoringError`` when a residue's token id is outside the
    ///   model's logits.
    public func mutationScores(
        _ variants: [ProteinVariant], wildTypeTokens: [Int], firstResidueIndex: Int, tokenID: (Character) -> Int?
    ) throws -> [Double] {
        // Per mutation: its token position and the ids of its wild-type and mutant residues.
        var resolved: [[(position: Int, wildType: Int, mutant: Int)]] = []
        for variant in variants {
            var mutations: [(position: Int, wildType: Int, mutant: Int)] = []
            for mutation in variant.mutations {
                let position = firstResidueIndex + mutation.position - 1
                func fail(_ message: String) -> VariantError { VariantError(variant: variant.description, message: message) }
                guard wildTypeTokens.indices.contains(position) else {
                    throw fail("residue \(mutation.position) is token \(position), outside the \(wildTypeTokens.count) tokens")
                }
                guard let wildType = tokenID(mutation.wildType) else { throw fail("residue \(mutation.wildType) has no token") }
                guard let mutant = tokenID(mutation.mutant) else { throw fail("residue \(mutation.mutant) has no token") }
                guard wildTypeTokens[position] == wildType else {
                    throw fail("token \(position) is \(wildTypeTokens[position]), not \(mutation.wildType) (\(wildType)): "
                        + "check firstResidueIndex \(firstResidueIndex) and the sequence")
                }
                mutations.append((position, wildType, mutant))
            }
            resolved.append(mutations)
        }
        // Per masked position, the log-probabilities of the residues its mutations compare.
        var needed: [Int: Set<Int>] = [:]
        for mutation in resolved.joined() { needed[mutation.position, default: []].formUnion([mutation.wildType, mutation.mutant]) }
        let positions = needed.keys.sorted()
        var logProbabilities: [Int: [Int: Double]] = [:]
        var outside: (token: Int, vocabulary: Int)?
        try forEachMarginal(tokens: wildTypeTokens, positions: positions) { index, row in
            let position = positions[index]
            if let token = needed[position]!.first(where: { !row.indices.contains($0) }) { outside = (token, row.count) }
            logProbabilities[position] = Dictionary(uniqueKeysWithValues: needed[position]!.map { ($0, row.indices.contains($0) ? row[$0] : 0) })
        }
        if let outside { throw ScoringError("token id \(outside.token) is outside the model's \(outside.vocabulary) logits") }
        return resolved.map { mutations in
            mutations.reduce(0) { score, mutation in
                let row = logProbabilities[mutation.position]!
                return score + (row[mutation.mutant]! - row[mutation.wildType]!)
            }
        }
    }
}
