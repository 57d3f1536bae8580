import KibanModels
import Testing

@Suite("Protein variant notation")
struct ProteinVariantTests {
    private let sequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"

    @Test func parsesSingleAndMultipleMutants() throws {
        let single = try ProteinVariant("K2R", sequence: sequence)
        #expect(single.mutations.count == 1)
        #expect(single.mutations[0].wildType == "K" && single.mutations[0].position == 2 && single.mutations[0].mutant == "R")
        let triple = try ProteinVariant("M1A:Q33E:S13T", sequence: sequence)
        #expect(triple.mutations.map(\.position) == [1, 33, 13])
        #expect(triple.mutations.map(\.mutant) == ["A", "E", "T"])
        #expect(triple.description == "M1A:Q33E:S13T")
        #expect(try ProteinVariant("T3T", sequence: sequence).mutations.count == 1)
    }

    @Test(arguments: [
        ("", "an empty mutation is not a mutation such as A23G"),
        ("K2", "'K2' is not a mutation such as A23G"),
        ("2R", "'2R' is not a mutation such as A23G"),
        ("KR", "'KR' is not a mutation such as A23G"),
        ("k2r", "'k2r' is not a mutation such as A23G"),
        ("K+2R", "'K+2R' is not a mutation such as A23G"),
        ("K02R", "'K02R' is not a mutation such as A23G"),
        ("K2R:", "an empty mutation is not a mutation such as A23G"),
        ("K2R;A4G", "'K2R;A4G' is not a mutation such as A23G"),
        ("K2R A4G", "'K2R A4G' is not a mutation such as A23G"),
    ])
    func rejectsBadSyntax(text: String, start: String) {
        let suffix = " (wild-type residue A–Z, position from 1, mutant residue A–Z; ':' between mutations)"
        #expect(throws: VariantError(variant: text, message: start + suffix)) { try ProteinVariant(text, sequence: sequence) }
    }

    @Test func namesPositionsOutsideTheSequence() {
        #expect(throws: VariantError(variant: "M0A", message: "position 0 in M0A is outside the sequence's 33 residues (positions count from 1)")) {
            try ProteinVariant("M0A", sequence: sequence)
        }
        #expect(throws: VariantError(variant: "K2R:Q34E", message: "position 34 in Q34E is outside the sequence's 33 residues (positions count from 1)")) {
            try ProteinVariant("K2R:Q34E", sequence: sequence)
        }
        #expect(throws: VariantError(variant: "A1G", message: "position 1 in A1G is outside the sequence's 0 residues (positions count from 1)")) {
            try ProteinVariant("A1G", sequence: "")
        }
    }

    @Test func namesWhatTheSequenceHasAtAMismatchedPosition() {
        #expect(throws: VariantError(variant: "A23G", message: "A23G expects A at position 23, but the sequence has L there")) {
            try ProteinVariant("A23G", sequence: sequence)
        }
        #expect(throws: VariantError(variant: "K2R:K4R", message: "K4R expects K at position 4, but the sequence has A there")) {
            try ProteinVariant("K2R:K4R", sequence: sequence)
        }
        let error = #expect(throws: VariantError.self) { try ProteinVariant("A23G", sequence: sequence) }
        #expect(error?.description == "variant 'A23G': A23G expects A at position 23, but the sequence has L there")
    }

    @Test func rejectsTwoMutationsAtOnePosition() {
        #expect(throws: VariantError(variant: "K2R:K2E", message: "K2R and K2E both change position 2")) {
            try ProteinVariant("K2R:K2E", sequence: sequence)
        }
    }
}
