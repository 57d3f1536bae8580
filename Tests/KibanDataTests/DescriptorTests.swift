import Foundation
import KibanData
import KibanTestSupport
import Testing

/// Descriptors for descriptor-token adapters: peptide physicochemistry and Magpie-style composition statistics.
@Suite("Descriptors")
struct DescriptorTests {
    /// Values from Tests/Fixtures/make_descriptor_reference.py (an independent Python implementation).
    @Test(arguments: [
        ("KLAKLAK", [7, 2.975419188580882, -0.1628571428571428, 0.7007539053052642, 0.0, 0.42857142857142855]),
        ("GIGKFLHSAKKFGKAFVGEIMNS", [23, 3.216771140239917, 0.17347826086956517, 0.4547564507815153, 0.13043478260869565, 0.21739130434782608]),
        ("dewyx", [5, -2.022848076294676, -0.11400000000000002, 0.3732396019655859, 0.4, 0.4]),
    ])
    func peptideDescriptorsMatchTheReference(sequence: String, expected: [Double]) throws {
        let values = try PeptideDescriptors(sequence: sequence).values
        #expect(values.count == PeptideDescriptors.names.count)
        for (index, (value, reference)) in zip(values, expected).enumerated() {
            #expect(abs(value - reference) <= 1e-12, "\(PeptideDescriptors.names[index]) of \(sequence): \(value), expected \(reference)")
        }
    }

    @Test func aHelixWithOneHydrophobicFaceHasALargerMomentThanItsScramble() throws {
        // Leucines every 3–4 residues line up on one face of an α-helix (100° per residue).
        let amphipathic = try PeptideDescriptors(sequence: "LKKLLKLLKKLLKL")
        let scrambled = try PeptideDescriptors(sequence: "LLLLLLLKKKKKKL")
        #expect(abs(amphipathic.meanHydrophobicity - scrambled.meanHydrophobicity) < 1e-12)
        #expect(amphipathic.hydrophobicMoment > 2 * scrambled.hydrophobicMoment)
    }

    @Test func badPeptidesAreRefusedByName() {
        #expect { try PeptideDescriptors(sequence: "") } throws: { "\($0)".contains("empty sequence") }
        #expect { try PeptideDescriptors(sequence: "AC1K") } throws: { "\($0)".contains("'1' in 'AC1K' is not a residue letter") }
    }

    @Test func compositionStatisticsOfFe2O3() throws {
        let table = try CompositionDescriptors(path: TestData.path("materials/elements/magpie.csv"))
        #expect(table.properties.count == 22 && table.names.count == 110 && table.names[0] == "Number_mean")
        let values = try table.values(for: ChemicalFormula(parsing: "Fe2O3"))
        // Atomic number: fractions 0.4 (Z 26) and 0.6 (Z 8).
        let expected = [0.4 * 26 + 0.6 * 8, (0.4 * 10.8 * 10.8 + 0.6 * 7.2 * 7.2).squareRoot(), 8, 26, 18]
        for (value, reference) in zip(values.prefix(5), expected) { #expect(abs(value - reference) <= 1e-12) }
        let single = try table.values(for: ChemicalFormula(parsing: "Si"))
        #expect(stride(from: 1, to: single.count, by: 5).allSatisfy { single[$0] == 0 && single[$0 + 3] == 0 }, "one element: no spread")
    }

    @Test func compositionTablesAndFormulasOutsideThemAreRefusedByName() throws {
        let table = try CompositionDescriptors(path: TestData.path("materials/elements/magpie.csv"))
        #expect { try table.values(for: ChemicalFormula(parsing: "OgO2")) } throws: { "\($0)".contains("no properties for Og (in 'OgO2')") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-descriptors")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let bad = folder.appendingPathComponent("bad.csv")
        try "element,a\nH,1\nXx,2\n".write(to: bad, atomically: true, encoding: .utf8)
        #expect { try CompositionDescriptors(path: bad.path) } throws: { "\($0)".contains("unknown element 'Xx'") && "\($0)".contains(":3") }
    }
}
