import KibanData

/// Checks protein text from CSV inputs with the alphabet FASTA files are read with (the 20
/// standard residues, X, B, Z, U, O; lower case accepted), so every input format fails the same
/// way on a character that is not a residue.
enum ResidueCheck {
    static let accepted = Set("ACDEFGHIKLMNPQRSTVWYXBZUO")

    static func check(_ record: InferenceRecord, policy: ResiduePolicy) throws {
        guard policy == .reject else { return }
        for (offset, character) in record.text.enumerated() where !accepted.contains(Character(character.uppercased())) {
            throw InferenceError(
                "\(record.location): id '\(record.id)': '\(character)' at position \(offset + 1) is not an amino-acid code "
                    + "(--unknown-residues x reads it as X)")
        }
    }

    /// The text with every character outside the alphabet replaced by X (protein tokenizers only).
    static func mapped(_ text: String, tokenizer: SequenceTokenizer) -> String {
        guard tokenizer.isPerResidue else { return text }
        return String(text.map { accepted.contains(Character($0.uppercased())) ? $0 : "X" })
    }
}
