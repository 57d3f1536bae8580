extension SequenceTokenizer {
    /// The 20 standard amino acids, which a per-residue vocabulary must all hold.
    static let standardResidues: Set<Character> = Set("ACDEFGHIKLMNPQRSTVWY")

    /// Whether `vocabulary` has one token per residue, like Rostlab/prot_bert's
    /// `[PAD] [UNK] [CLS] [SEP] [MASK] L A G V E S I K R D T P N Q F Y M H C W X U B Z O`: every
    /// token is a bracketed special token or a single ASCII letter, and the letters include the 20
    /// standard amino acids (in either case).
    public static func isPerResidue(vocabulary: [String]) -> Bool {
        var letters: Set<Character> = []
        for token in vocabulary {
            if token.count > 2, token.hasPrefix("["), token.hasSuffix("]") { continue }
            guard token.count == 1, let letter = token.first, letter.isASCII, letter.isLetter else { return false }
            letters.insert(Character(letter.uppercased()))
        }
        return standardResidues.isSubset(of: letters)
    }

    /// `sequence` as a Hugging Face user writes it for a per-residue BERT: "MKT[MASK]A" →
    /// "M K T [MASK] A". Every Unicode scalar is its own word (Python's `" ".join(sequence)`),
    /// whitespace is dropped, and a bracketed token of `tokenizer` (`[MASK]`) stays whole.
    static func spacedResidues(_ sequence: String, tokenizer: WordPieceTokenizer) -> String {
        let scalars = Array(sequence.unicodeScalars)
        var words: [String] = []
        var index = 0
        while index < scalars.count {
            if scalars[index] == "[", let close = scalars[index...].firstIndex(of: "]") {
                let candidate = String(String.UnicodeScalarView(scalars[index...close]))
                if tokenizer.id(of: candidate) != nil {
                    words.append(candidate)
                    index = close + 1
                    continue
                }
            }
            if !scalars[index].properties.isWhitespace { words.append(String(scalars[index])) }
            index += 1
        }
        return words.joined(separator: " ")
    }
}
