import Foundation
import KibanData
import Testing

/// Invariances of the structure encoders' features: moving a backbone or a crystal, choosing another
/// cell or reordering sites changes nothing.
@Suite("Structure features")
struct StructureFeatureTests {
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/structures/\(name)").path
    }

    /// A proper rotation (about the axis (1, 2, 2)/3 by 0.7 rad), as rows.
    static let rotation: [SIMD3<Double>] = {
        let (axis, angle) = (SIMD3<Double>(1, 2, 2) / 3, 0.7)
        let (c, s) = (cos(angle), sin(angle))
        let k = [[0, -axis.z, axis.y], [axis.z, 0, -axis.x], [-axis.y, axis.x, 0]]
        return (0..<3).map { i in
            SIMD3((0..<3).map { j in
                (i == j ? c : 0) + s * k[i][j] + (1 - c) * [axis.x, axis.y, axis.z][i] * [axis.x, axis.y, axis.z][j]
            })
        }
    }()

    static func rotated(_ v: SIMD3<Double>) -> SIMD3<Double> { SIMD3((0..<3).map { (rotation[$0] * v).sum() }) }

    static func largestDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
        a.count == b.count ? zip(a, b).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? 0 : .infinity
    }

    @Test func backboneFeaturesOfCrambinIgnoreRotationAndTranslation() throws {
        let crambin = try ProteinBackbone.read(path: Self.fixture("crambin_fragment.pdb"))
        let features = try BackboneFeatures.residueFeatures(crambin, chain: "A", neighbours: 3)
        #expect(features.count == 5 && features.allSatisfy { $0.count == BackboneFeatures.width(neighbours: 3, basis: RadialBasis(cutoff: 20)) })
        let move = { (v: SIMD3<Double>) in Self.rotated(v) + SIMD3(12.5, -40, 7) }
        let residues = crambin.residues
        let moved = BackboneFeatures.residueFeatures(
            n: residues.map { move($0.n) }, ca: residues.map { move($0.ca) }, c: residues.map { move($0.c) }, neighbours: 3)
        #expect(Self.largestDifference(features, moved) <= 1e-9)
        // The first residue has no φ, the last no ψ or ω; every other dihedral is present (sin² + cos² = 1).
        let angles = features.map { Array($0.suffix(6)) }
        #expect(angles[0][0...1] == [0, 0] && angles[4][2...5] == [0, 0, 0, 0])
        #expect(abs(angles[2][0] * angles[2][0] + angles[2][1] * angles[2][1] - 1) < 1e-12)
        // Peptide bonds are planar and trans: ω ≈ 180°, so cos ω ≈ −1.
        #expect(angles[0...3].allSatisfy { $0[5] < -0.9 })
    }

    @Test func aChainBreakLeavesTheDihedralsAcrossItUndefined() throws {
        let residues = try ProteinBackbone.read(path: Self.fixture("crambin_fragment.pdb")).residues
        let shift = { (index: Int, v: SIMD3<Double>) in index >= 3 ? v + SIMD3(30, 0, 0) : v }
        let features = BackboneFeatures.residueFeatures(
            n: residues.enumerated().map { shift($0.offset, $0.element.n) }, ca: residues.enumerated().map { shift($0.offset, $0.element.ca) },
            c: residues.enumerated().map { shift($0.offset, $0.element.c) }, neighbours: 2)
        #expect(features[2].suffix(4).allSatisfy { $0 == 0 } && features[3].suffix(6).prefix(2).allSatisfy { $0 == 0 })
    }

    /// NaCl's conventional cell, with a moved origin, reordered sites, a rotated frame, and as the
    /// primitive cell with another choice of basis vectors: every Na sees the same neighbours, and so does every Cl.
    @Test func crystalFeaturesIgnoreOriginSiteOrderRotationAndCellChoice() throws {
        let conventional = try Crystal.readPOSCAR(path: Self.fixture("NaCl.poscar"))
        let (elements, features) = try CrystalFeatures.siteFeatures(conventional)
        #expect(elements == [11, 11, 11, 11, 17, 17, 17, 17] && features[0].count == 16)
        #expect(features.allSatisfy { Self.largestDifference([$0], [features[0]]) <= 1e-9 }, "every site of rock salt has the same neighbour shells")
        #expect(features[0].contains { $0 > 1 }, "neighbours within 6 Å")

        let lattice = conventional.lattice
        let variants: [(String, [SIMD3<Double>], [(String, SIMD3<Double>)])] = [
            ("origin moved by (0.13, 0.29, 0.41)", lattice, zip(conventional.species, conventional.fractionalCoordinates).map { ($0.symbol, $1 + SIMD3(0.13, 0.29, 0.41)) }),
            ("sites reversed", lattice, zip(conventional.species, conventional.fractionalCoordinates).reversed().map { ($0.symbol, $1) }),
            ("frame rotated", lattice.map(Self.rotated), zip(conventional.species, conventional.fractionalCoordinates).map { ($0.symbol, $1) }),
            // Primitive fcc vectors a1, a2 and a1 + a3 (an equally valid basis): Cl at (0, ½, ½) in it.
            ("primitive cell, basis a1, a2, a1 + a3", [SIMD3(0, 2.82, 2.82), SIMD3(2.82, 0, 2.82), SIMD3(2.82, 5.64, 2.82)],
             [("Na", SIMD3(0, 0, 0)), ("Cl", SIMD3(0, 0.5, 0.5))]),
        ]
        for (name, cell, sites) in variants {
            let crystal = try Crystal(poscar: Self.poscar(cell, sites), file: name)
            let (other, otherFeatures) = try CrystalFeatures.siteFeatures(crystal)
            for (element, row) in zip(other, otherFeatures) {
                let reference = features[elements.firstIndex(of: element)!]
                #expect(Self.largestDifference([row], [reference]) <= 1e-9, "\(name): a site of element \(element) differs")
            }
        }
    }

    /// POSCAR text (Cartesian lattice rows in Å, fractional coordinates) of `sites` grouped by element.
    static func poscar(_ lattice: [SIMD3<Double>], _ sites: [(String, SIMD3<Double>)]) -> String {
        let symbols = sites.map(\.0).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let grouped = symbols.flatMap { symbol in sites.filter { $0.0 == symbol } }
        let row = { (v: SIMD3<Double>) in String(format: "%.12f %.12f %.12f", v.x, v.y, v.z) }
        return (["test cell", "1.0"] + lattice.map(row) + [symbols.joined(separator: " "),
                symbols.map { symbol in String(sites.filter { $0.0 == symbol }.count) }.joined(separator: " "), "Direct"]
                + grouped.map { row($0.1) }).joined(separator: "\n") + "\n"
    }
}
