/// How sequences become token ids.
public enum SequenceTokenizer: Sendable {
    /// ESM-2's 33-token alphabet.
    case protein
    /// A BERT WordPiece tokenizer.
    case wordPiece(WordPieceTokenizer)
    /// A BERT tokenizer whose vocabulary has one token per residue (Rostlab/prot_bert and its
    /// relatives): each residue of a plain sequence is its own word, as if written "M K T …".
    case residueWordPiece(WordPieceTokenizer)

    /// `sequence` → ids with the model's special tokens, at most `maxLength` when `truncate`.
    public func encode(_ sequence: String, maxLength: Int, truncate: Bool) -> [Int] {
        switch self {
        case .protein:
            let ids = ProteinAlphabet.encode(sequence)
            return truncate && ids.count > maxLength ? Array(ids.prefix(maxLength - 1)) + [ProteinAlphabet.eos] : ids
        case .wordPiece(let tokenizer):
            return tokenizer.encode(sequence, maxLength: truncate ? maxLength : Int.max / 2)
        case .residueWordPiece(let tokenizer):
            return tokenizer.encode(Self.spacedResidues(sequence, tokenizer: tokenizer), maxLength: truncate ? maxLength : Int.max / 2)
        }
    }

    /// The WordPiece tokenizer behind `.wordPiece` and `.residueWordPiece` (for its special-token
    /// ids, such as `id(of: "[MASK]")`); nil for `.protein`.
    public var wordPieceTokenizer: WordPieceTokenizer? {
        switch self {
        case .protein: nil
        case .wordPiece(let tokenizer), .residueWordPiece(let tokenizer): tokenizer
        }
    }

    /// The token id of one residue for tokenizers with a token per residue (ESM's alphabet and
    /// per-residue BERT vocabularies); nil for word-piece vocabularies and unknown residues.
    public func residueID(_ residue: Character) -> Int? {
        switch self {
        case .protein: ProteinAlphabet.id(of: String(residue))
        case .residueWordPiece(let tokenizer): tokenizer.id(of: String(residue))
        case .wordPiece: nil
        }
    }

    /// Whether inputs are protein sequences, one token per residue.
    public var isPerResidue: Bool {
        if case .wordPiece = self { return false }
        return true
    }
}
