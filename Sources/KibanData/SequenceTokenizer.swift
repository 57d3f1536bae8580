/// How sequences become token ids.
public enum SequenceTokenizer: Sendable {
    /// ESM-2's 33-token alphabet.
    case protein
    /// A BERT WordPiece tokenizer.
    case wordPiece(WordPieceTokenizer)

    /// `sequence` → ids with the model's special tokens, at most `maxLength` when `truncate`.
    public func encode(_ sequence: String, maxLength: Int, truncate: Bool) -> [Int] {
        switch self {
        case .protein:
            let ids = ProteinAlphabet.encode(sequence)
            return truncate && ids.count > maxLength ? Array(ids.prefix(maxLength - 1)) + [ProteinAlphabet.eos] : ids
        case .wordPiece(let tokenizer):
            return tokenizer.encode(sequence, maxLength: truncate ? maxLength : Int.max / 2)
        }
    }
}
