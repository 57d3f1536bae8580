import Foundation

/// Physicochemical descriptors of a peptide that Kiban computes itself, for descriptor-token
/// adapters: length, net charge at pH 7, mean hydrophobicity and hydrophobic moment on the
/// Eisenberg consensus scale, and the aromatic and charged fractions.
///
/// - Net charge: Henderson–Hasselbalch with EMBOSS's pKa values (free N- and C-terminus counted).
/// - Hydrophobic moment: |Σₙ hₙ·e^{i·n·100°}| / length over the whole peptide (Eisenberg 1984; 100° is
///   the turn of an α-helix).
/// - Aromatic: F, W, Y; charged: D, E, K, R.
/// Residues outside the 20 standard ones (X, B, Z, U, O) count in the length but add no charge or
/// hydrophobicity.
public struct PeptideDescriptors: Equatable, Sendable {
    public let length: Double
    public let netCharge: Double
    public let meanHydrophobicity: Double
    public let hydrophobicMoment: Double
    public let aromaticFraction: Double
    public let chargedFraction: Double

    /// The descriptors in a fixed order (the adapter's input vector).
    public var values: [Double] { [length, netCharge, meanHydrophobicity, hydrophobicMoment, aromaticFraction, chargedFraction] }
    public static let names = ["length", "net_charge_ph7", "mean_hydrophobicity", "hydrophobic_moment", "aromatic_fraction", "charged_fraction"]

    /// Eisenberg, Schwarz, Komarony & Wall (1984), normalised consensus scale.
    static let hydrophobicity: [Character: Double] = [
        "A": 0.62, "R": -2.53, "N": -0.78, "D": -0.90, "C": 0.29, "Q": -0.85, "E": -0.74, "G": 0.48, "H": -0.40, "I": 1.38,
        "L": 1.06, "K": -1.50, "M": 0.64, "F": 1.19, "P": 0.12, "S": -0.18, "T": -0.05, "W": 0.81, "Y": 0.26, "V": 1.08,
    ]
    /// EMBOSS pKa values of the side chains that carry a charge at some pH, and of the termini.
    static let positivePKa: [Character: Double] = ["K": 10.8, "R": 12.5, "H": 6.5]
    static let negativePKa: [Character: Double] = ["D": 3.9, "E": 4.1, "C": 8.5, "Y": 10.1]
    static let nTerminusPKa = 8.6, cTerminusPKa = 3.6

    /// Descriptors of `sequence` (one-letter codes, any case); an empty sequence or a character
    /// that is not a residue letter is an error naming it.
    public init(sequence: String, pH: Double = 7) throws {
        let residues = Array(sequence.uppercased())
        guard !residues.isEmpty else { throw DataError(file: "<peptide>", message: "an empty sequence has no descriptors") }
        if let bad = residues.first(where: { !$0.isLetter || !$0.isASCII }) {
            throw DataError(file: "<peptide>", message: "'\(bad)' in '\(sequence)' is not a residue letter")
        }
        let count = Double(residues.count)
        length = count
        let positive = { (pKa: Double) in 1 / (1 + Foundation.pow(10, pH - pKa)) }
        let negative = { (pKa: Double) in 1 / (1 + Foundation.pow(10, pKa - pH)) }
        netCharge = positive(Self.nTerminusPKa) - negative(Self.cTerminusPKa)
            + residues.reduce(0.0) { total, residue in
                total + (Self.positivePKa[residue].map(positive) ?? 0) - (Self.negativePKa[residue].map(negative) ?? 0)
            }
        let values = residues.map { Self.hydrophobicity[$0] ?? 0 }
        meanHydrophobicity = values.reduce(0, +) / count
        let angle = 100 * Double.pi / 180
        let (cosines, sines) = values.enumerated().reduce((0.0, 0.0)) { sums, entry in
            (sums.0 + entry.element * Foundation.cos(Double(entry.offset) * angle), sums.1 + entry.element * Foundation.sin(Double(entry.offset) * angle))
        }
        hydrophobicMoment = (cosines * cosines + sines * sines).squareRoot() / count
        aromaticFraction = Double(residues.filter { "FWY".contains($0) }.count) / count
        chargedFraction = Double(residues.filter { "DEKR".contains($0) }.count) / count
    }
}
