/// A protein variant in the usual notation: `A23G` (wild-type residue, 1-based residue position,
/// mutant residue), several joined by `:` for a multi-mutant (`A23G:K40R`, as ProteinGym writes them).
///
/// Parsing checks the variant against its wild-type sequence, so a variant that exists is one
/// whose residues match.
public struct ProteinVariant: Sendable, Equatable, CustomStringConvertible {
    /// One substitution.
    public struct Mutation: Sendable, Equatable, CustomStringConvertible {
        /// The residue the wild-type sequence has at `position`.
        public let wildType: Character
        /// The residue's position in the sequence, counted from 1.
        public let position: Int
        /// The residue it becomes.
        public let mutant: Character

        /// `A23G`.
        public var description: String { "\(wildType)\(position)\(mutant)" }
    }

    /// The substitutions, in the order written; no two at one position.
    public let mutations: [Mutation]

    /// Parses `text` (`A23G` or `A23G:K40R`; residues are ASCII letters A–Z) against the
    /// wild-type `sequence` (residues only, no special tokens).
    ///
    /// - Throws: ``VariantError`` naming the variant when a mutation is not letter–number–letter,
    ///   its position is outside 1…`sequence.count`, the sequence holds another residue there, or
    ///   two mutations share a position.
    public init(_ text: String, sequence: String) throws(VariantError) {
        let residues = Array(sequence)
        var mutations: [Mutation] = []
        for part in text.split(separator: ":", omittingEmptySubsequences: false) {
            let mutation = try Self.mutation(String(part), variant: text)
            guard mutation.position >= 1, mutation.position <= residues.count else {
                throw VariantError(variant: text, message: "position \(mutation.position) in \(mutation) is outside "
                    + "the sequence's \(residues.count) residues (positions count from 1)")
            }
            let found = residues[mutation.position - 1]
            guard found == mutation.wildType else {
                throw VariantError(variant: text, message: "\(mutation) expects \(mutation.wildType) at position "
                    + "\(mutation.position), but the sequence has \(found) there")
            }
            if let earlier = mutations.first(where: { $0.position == mutation.position }) {
                throw VariantError(variant: text, message: "\(earlier) and \(mutation) both change position \(mutation.position)")
            }
            mutations.append(mutation)
        }
        self.mutations = mutations
    }

    /// `A23G:K40R`.
    public var description: String { mutations.map(\.description).joined(separator: ":") }

    /// One `A23G`: a letter, a decimal number without sign or leading zero, a letter.
    private static func mutation(_ part: String, variant: String) throws(VariantError) -> Mutation {
        let characters = Array(part)
        func isResidue(_ character: Character?) -> Bool {
            character.map { $0.isASCII && $0.isUppercase } ?? false
        }
        let digits = characters.count > 2 ? characters[1..<(characters.count - 1)] : []
        guard isResidue(characters.first), isResidue(characters.last), !digits.isEmpty,
            digits.allSatisfy({ $0.isASCII && $0.isWholeNumber }), !(digits.count > 1 && digits.first == "0"),
            let position = Int(String(digits))
        else {
            let shown = part.isEmpty ? "an empty mutation" : "'\(part)'"
            throw VariantError(variant: variant, message: "\(shown) is not a mutation such as A23G "
                + "(wild-type residue A–Z, position from 1, mutant residue A–Z; ':' between mutations)")
        }
        return Mutation(wildType: characters[0], position: position, mutant: characters[characters.count - 1])
    }
}

/// A variant that cannot be parsed or scored: `variant 'A23G': what is wrong`.
public struct VariantError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The variant as written.
    public let variant: String
    /// What is wrong, in words.
    public let message: String

    /// An error about `variant`.
    public init(variant: String, message: String) {
        self.variant = variant
        self.message = message
    }

    public var description: String { "variant '\(variant)': \(message)" }
}
