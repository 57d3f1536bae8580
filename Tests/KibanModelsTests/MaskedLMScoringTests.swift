import Foundation
import KibanData
import KibanFormats
import KibanModels
import KibanTensor
import KibanTestSupport
import Testing

// Masked-LM scoring of the tiny ESM-2 (`esm_mlm.safetensors`) against PyTorch float64 references in
// `esm_scoring.safetensors` (from `make_inference_fixtures.py`). Tolerances are absolute: 1e-4 for
// every log-probability, mutation score and PLL, and 1e-4 relative for the pseudo-perplexity.

/// The fixture's ESM-2 with its weights, in evaluation mode, and a scorer around it.
private func fixtureScorer(maxBatch: Int = 16) throws -> MaskedLMScorer {
    let fixture = try ModelFixture("esm_mlm")
    let model = EsmForMaskedLM(try fixture.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
    try model.load(stateDict: fixture.stateDict())
    model.eval()
    return MaskedLMScorer(maskTokenID: ProteinAlphabet.mask, maxBatch: maxBatch) { model($0, attentionMask: $1) }
}

private let esmSpecialTokens: Set<Int> = [ProteinAlphabet.cls, ProteinAlphabet.pad, ProteinAlphabet.eos]

private func residueID(_ residue: Character) -> Int? { ProteinAlphabet.id(of: String(residue)) }

/// One sequence of the scoring fixture.
private struct ScoringCase {
    let name: String
    let sequence: String
    let variants: [String]
    let file: SafeTensorsFile

    static func all() throws -> [ScoringCase] {
        let file = try referenceFixture("esm_scoring")
        return try ["long", "rare"].map { name in
            let variants = try JSONDecoder().decode([String].self, from: Data((file.metadata["\(name).variants"] ?? "").utf8))
            return ScoringCase(name: name, sequence: file.metadata["\(name).sequence"] ?? "", variants: variants, file: file)
        }
    }

    var tokens: [Int] { ProteinAlphabet.encode(sequence) }

    func doubles(_ key: String) throws -> [Double] { try file.doubles("\(name).\(key)").values }
}

@Suite("Masked-LM scoring against PyTorch")
struct MaskedLMScoringTests {
    @Test func fixtureTokensAreKibansTokens() throws {
        for item in try ScoringCase.all() {
            #expect(try item.file.indices("\(item.name).input_ids").values == item.tokens, "\(item.name)")
        }
    }

    @Test func maskedMarginalsMatchPyTorch() throws {
        let scorer = try fixtureScorer()
        var worst = 0.0
        for item in try ScoringCase.all() {
            let marginals = try scorer.maskedMarginals(tokens: item.tokens, positions: Array(1...item.sequence.count))
            let (shape, reference) = try item.file.doubles("\(item.name).marginals")
            #expect(marginals.shape == shape)
            let error = zip(marginals.toArray(), reference).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(error <= 1e-4, "\(item.name): max |Δ| \(error)")
            worst = max(worst, error)
        }
        print("masked marginals: max |Δ| \(worst)")
    }

    @Test func pseudoLikelihoodMatchesPyTorch() throws {
        let scorer = try fixtureScorer()
        for item in try ScoringCase.all() {
            let score = try scorer.pseudoLikelihood(tokens: item.tokens, specialTokens: esmSpecialTokens)
            #expect(score.positions == Array(1...item.sequence.count))
            let (pll, perplexity) = (try item.doubles("pll")[0], try item.doubles("pseudo_perplexity")[0])
            let pllError = abs(score.logLikelihood - pll), perplexityError = abs(score.pseudoPerplexity - perplexity) / perplexity
            #expect(pllError <= 1e-4, "\(item.name): PLL \(score.logLikelihood) vs \(pll)")
            #expect(perplexityError <= 1e-4, "\(item.name): pseudo-perplexity \(score.pseudoPerplexity) vs \(perplexity)")
            print("\(item.name): PLL |Δ| \(pllError), pseudo-perplexity relative \(perplexityError)")
        }
    }

    @Test func mutationScoresMatchPyTorch() throws {
        let scorer = try fixtureScorer()
        var worst = 0.0
        for item in try ScoringCase.all() {
            let variants = try item.variants.map { try ProteinVariant($0, sequence: item.sequence) }
            let scores = try scorer.mutationScores(variants, wildTypeTokens: item.tokens, firstResidueIndex: 1, tokenID: residueID)
            let reference = try item.doubles("scores")
            #expect(scores.count == reference.count)
            for (variant, (score, expected)) in zip(item.variants, zip(scores, reference)) {
                #expect(abs(score - expected) <= 1e-4, "\(variant): \(score) vs \(expected)")
                worst = max(worst, abs(score - expected))
            }
        }
        print("mutation scores: max |Δ| \(worst)")
    }

    /// Each row comes from its own masked copy, so chunking the copies changes no bit when the
    /// model's forward pass treats batch rows independently: here the ESM-2 run one copy at a time.
    @Test func resultsDoNotDependOnMaxBatch() throws {
        let item = try ScoringCase.all()[0]
        let positions = Array(1...item.sequence.count)
        let variants = try item.variants.map { try ProteinVariant($0, sequence: item.sequence) }
        let batched = try fixtureScorer()
        var batchSizes: [Int] = []
        var tables: [[Float]] = [], likelihoods: [PseudoLikelihood] = [], scores: [[Double]] = []
        for maxBatch in [1, 7, 64] {
            let scorer = MaskedLMScorer(maskTokenID: ProteinAlphabet.mask, maxBatch: maxBatch) { ids, mask in
                batchSizes.append(ids.shape[0])
                let length = ids.shape[1]
                return Tensor.concatenate((0..<ids.shape[0]).map { row in
                    let copy = IndexTensor(shape: [1, length], values: Array(ids.values[(row * length)..<((row + 1) * length)]))
                    return batched.model(copy, mask.sliced(axis: 0, row..<(row + 1)))
                }, axis: 0)
            }
            tables.append(try scorer.maskedMarginals(tokens: item.tokens, positions: positions).toArray())
            likelihoods.append(try scorer.pseudoLikelihood(tokens: item.tokens, specialTokens: esmSpecialTokens))
            scores.append(try scorer.mutationScores(variants, wildTypeTokens: item.tokens, firstResidueIndex: 1, tokenID: residueID))
        }
        // 48 residues: 48 batches of 1, 6 of 7 and one of 6, one of 48 (marginals, then PLL); the
        // variants mutate 12 distinct positions, each masked once.
        #expect(batchSizes == [Int](repeating: 1, count: 48 + 48 + 12) + [7, 7, 7, 7, 7, 7, 6] + [7, 7, 7, 7, 7, 7, 6]
            + [7, 5] + [48, 48, 12])
        #expect(tables.count == 3 && tables.allSatisfy { $0 == tables[0] })
        #expect(likelihoods.allSatisfy { $0 == likelihoods[0] })
        #expect(scores.allSatisfy { $0 == scores[0] })
    }

    /// The plain batched ESM-2 is not bit-for-bit batch-invariant: OpenBLAS's sgemm rounds a row
    /// differently as the number of rows changes (up to ~7e-7 on a (B·50)×32 by 32×32 product).
    /// Through the network that stays at float32 rounding.
    @Test func batchedForwardPassesAgreeToRounding() throws {
        let item = try ScoringCase.all()[0]
        let positions = Array(1...item.sequence.count)
        let tables = try [1, 7, 64].map { try fixtureScorer(maxBatch: $0).maskedMarginals(tokens: item.tokens, positions: positions).toArray() }
        let difference = tables.dropFirst().map { table in zip(table, tables[0]).map { abs($0 - $1) }.max() ?? .infinity }.max()!
        #expect(difference <= 1e-5)
        print("masked marginals, maxBatch 7 and 64 against 1: max |Δ| \(difference)")
    }

    /// The scorer masks one position per copy and reads that position: counted with a model that
    /// records its inputs.
    @Test func masksOnlyTheScoredPositionAndBatchesCopies() throws {
        var calls: [IndexTensor] = []
        let vocabulary = 5
        let scorer = MaskedLMScorer(maskTokenID: 4, maxBatch: 2) { ids, mask in
            calls.append(ids)
            #expect(mask.toArray().allSatisfy { $0 == 1 })
            // Logits favour the token id equal to the masked position.
            let (batch, tokens) = (ids.shape[0], ids.shape[1])
            var values = [Float](repeating: 0, count: batch * tokens * vocabulary)
            for row in 0..<batch {
                for position in 0..<tokens where ids.values[row * tokens + position] == 4 {
                    values[(row * tokens + position) * vocabulary + position] = 2
                }
            }
            return Tensor(shape: [batch, tokens, vocabulary], values: values)
        }
        let marginals = try scorer.maskedMarginals(tokens: [0, 1, 2, 3, 0], positions: [1, 3, 2])
        #expect(calls.map(\.shape) == [[2, 5], [1, 5]])
        #expect(calls.flatMap(\.values) == [0, 4, 2, 3, 0, 0, 1, 2, 4, 0, 0, 1, 4, 3, 0])
        let rows = marginals.toArray()
        let high = Float(2 - log(exp(2.0) + 4)), low = Float(-log(exp(2.0) + 4))
        for (row, position) in [1, 3, 2].enumerated() {
            for token in 0..<vocabulary {
                #expect(abs(rows[row * vocabulary + token] - (token == position ? high : low)) < 1e-6)
            }
        }
    }

    @Test func rejectsBadPositionsAndSequences() throws {
        let scorer = MaskedLMScorer(maskTokenID: 4) { ids, _ in Tensor.zeros([ids.shape[0], ids.shape[1], 5]) }
        #expect(throws: ScoringError("position 5 is outside the sequence's 5 tokens")) {
            try scorer.maskedMarginals(tokens: [0, 1, 2, 3, 0], positions: [1, 5])
        }
        #expect(throws: ScoringError("no positions to score")) { try scorer.maskedMarginals(tokens: [0, 1], positions: []) }
        #expect(throws: ScoringError("the sequence is empty")) { try scorer.maskedMarginals(tokens: [], positions: [0]) }
        #expect(throws: ScoringError("the sequence has no token outside the special tokens")) {
            try scorer.pseudoLikelihood(tokens: [0, 2], specialTokens: [0, 2])
        }
    }

    @Test func mutationScoringChecksTheTokenOffset() throws {
        let scorer = try fixtureScorer()
        let sequence = "MKTAYIAK"
        let tokens = ProteinAlphabet.encode(sequence)
        let variant = try ProteinVariant("K2R", sequence: sequence)
        #expect(throws: VariantError(variant: "K2R", message: "token 1 is 20, not K (15): check firstResidueIndex 0 and the sequence")) {
            try scorer.mutationScores([variant], wildTypeTokens: tokens, firstResidueIndex: 0, tokenID: residueID)
        }
        #expect(throws: VariantError(variant: "K2R", message: "residue 2 is token 11, outside the 10 tokens")) {
            try scorer.mutationScores([variant], wildTypeTokens: tokens, firstResidueIndex: 10, tokenID: residueID)
        }
        let noR: (Character) -> Int? = { $0 == "R" ? nil : residueID($0) }
        #expect(throws: VariantError(variant: "K2R", message: "residue R has no token")) {
            try scorer.mutationScores([variant], wildTypeTokens: tokens, firstResidueIndex: 1, tokenID: noR)
        }
        let outside: (Character) -> Int? = { $0 == "R" ? 40 : residueID($0) }
        #expect(throws: ScoringError("token id 40 is outside the model's 33 logits")) {
            try scorer.mutationScores([variant], wildTypeTokens: tokens, firstResidueIndex: 1, tokenID: outside)
        }
        let single = try scorer.mutationScores(
            [variant, try ProteinVariant("A4G", sequence: sequence), try ProteinVariant("K2R:A4G", sequence: sequence)],
            wildTypeTokens: tokens, firstResidueIndex: 1, tokenID: residueID)
        #expect(abs(single[2] - (single[0] + single[1])) < 1e-12)
    }

    /// The same scorer drives a BERT masked LM: each row equals the log-softmax of a direct forward
    /// pass on the copy masked by hand.
    @Test func scoresABertMaskedLM() throws {
        let fixture = try ModelFixture("bert_mlm")
        let model = BertForMaskedLM(try fixture.config(BertConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: fixture.stateDict())
        model.eval()
        let (cls, sep, mask) = (2, 3, 4)
        let tokens = [cls, 17, 5, 33, 41, 9, 28, sep]
        let scorer = MaskedLMScorer(maskTokenID: mask, maxBatch: 4) { model($0, attentionMask: $1) }
        let score = try scorer.pseudoLikelihood(tokens: tokens, specialTokens: [0, cls, sep])
        #expect(score.positions == Array(1...6))
        for (position, logProbability) in zip(score.positions, score.logProbabilities) {
            var copy = tokens
            copy[position] = mask
            let logits = model(IndexTensor(shape: [1, tokens.count], values: copy)).logSoftmax()
            let direct = logits.toArray()[(position * 50)..<((position + 1) * 50)]
            #expect(abs(logProbability - Double(direct[direct.startIndex + tokens[position]])) < 1e-5)
        }
    }
}
