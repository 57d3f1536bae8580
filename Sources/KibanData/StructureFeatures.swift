import Foundation

/// Gaussian radial basis functions exp(−((d − μₖ)/σ)²) with `count` centres μₖ evenly spaced over
/// [0, cutoff] and σ their spacing: a distance becomes a smooth vector a network can read.
public struct RadialBasis: Sendable, Equatable {
    public let count: Int
    public let cutoff: Double

    public init(count: Int = 16, cutoff: Double) {
        (self.count, self.cutoff) = (count, cutoff)
    }

    /// distance → `count` values.
    public func expand(_ distance: Double) -> [Double] {
        let spacing = cutoff / Double(count - 1)
        return (0..<count).map { index in
            let z = (distance - Double(index) * spacing) / spacing
            return Foundation.exp(-z * z)
        }
    }
}

/// Rotation- and translation-invariant per-residue features of a protein backbone, one row per
/// residue (aligned with the sequence's residue tokens): the distances from its Cα to its `neighbours`
/// nearest other Cα atoms, nearest first, each expanded in a ``RadialBasis`` (zeros where the chain
/// has fewer residues), then sin and cos of the backbone dihedrals φ, ψ and ω (zeros where a
/// dihedral is undefined: at the chain's ends and across a break, where C(i) and N(i+1) are more than
/// 2 Å apart).
public enum BackboneFeatures {
    /// Values per residue for `neighbours` and `basis`.
    public static func width(neighbours: Int, basis: RadialBasis) -> Int { neighbours * basis.count + 6 }

    /// Features of one chain of `backbone`; non-finite coordinates are an error naming the residue.
    public static func residueFeatures(
        _ backbone: ProteinBackbone, chain: Character, neighbours: Int = 16, basis: RadialBasis = RadialBasis(cutoff: 20)
    ) throws -> [[Double]] {
        let residues = backbone.residues(chain: chain)
        guard !residues.isEmpty else { throw DataError(file: backbone.file, message: "no residues in chain '\(chain)'") }
        for residue in residues where ![residue.n, residue.ca, residue.c].allSatisfy(isFinite) {
            throw DataError(file: backbone.file, message: "residue \(residue.name) \(residue.number) of chain '\(chain)' has a coordinate that is not a finite number")
        }
        return residueFeatures(n: residues.map(\.n), ca: residues.map(\.ca), c: residues.map(\.c), neighbours: neighbours, basis: basis)
    }

    /// Features from the N, Cα and C coordinates of consecutive residues (Å).
    public static func residueFeatures(
        n: [SIMD3<Double>], ca: [SIMD3<Double>], c: [SIMD3<Double>], neighbours: Int = 16, basis: RadialBasis = RadialBasis(cutoff: 20)
    ) -> [[Double]] {
        let count = ca.count
        let linked = (0..<max(count - 1, 0)).map { length(c[$0] - n[$0 + 1]) < 2 }
        return (0..<count).map { i in
            let nearest = (0..<count).filter { $0 != i }.map { length(ca[$0] - ca[i]) }.sorted().prefix(neighbours)
            var row = nearest.flatMap(basis.expand)
            row += [Double](repeating: 0, count: (neighbours - nearest.count) * basis.count)
            let before = i > 0 && linked[i - 1], after = i + 1 < count && linked[i]
            let phi = before ? dihedral(c[i - 1], n[i], ca[i], c[i]) : nil
            let psi = after ? dihedral(n[i], ca[i], c[i], n[i + 1]) : nil
            let omega = after ? dihedral(ca[i], c[i], n[i + 1], ca[i + 1]) : nil
            for angle in [phi, psi, omega] { row += angle.map { [Foundation.sin($0), Foundation.cos($0)] } ?? [0, 0] }
            return row
        }
    }

    /// The dihedral angle of p0-p1-p2-p3 about p1-p2, in (−π, π].
    static func dihedral(_ p0: SIMD3<Double>, _ p1: SIMD3<Double>, _ p2: SIMD3<Double>, _ p3: SIMD3<Double>) -> Double {
        let axis = (p2 - p1) / length(p2 - p1)
        let (b0, b2) = (p0 - p1, p3 - p2)
        let v = b0 - dot(b0, axis) * axis, w = b2 - dot(b2, axis) * axis
        return Foundation.atan2(dot(cross(axis, v), w), dot(v, w))
    }
}

/// Per-site features of a periodic crystal, invariant to rotating it, moving its origin, choosing
/// another cell of the same lattice and reordering its sites: each site's atomic number, and the sum
/// over its neighbours within `cutoff` (periodic images included) of the ``RadialBasis`` expansion
/// of their distance.
public enum CrystalFeatures {
    /// Atomic numbers (sites) and features (sites × basis.count). A cell with a (near) zero volume or
    /// a non-finite coordinate is an error naming `file`.
    public static func siteFeatures(
        _ crystal: Crystal, cutoff: Double = 6, basis: RadialBasis? = nil, file: String = "<crystal>"
    ) throws -> (elements: [Int], features: [[Double]]) {
        let basis = basis ?? RadialBasis(cutoff: cutoff)
        let edges = crystal.lattice.map(length)
        guard crystal.lattice.allSatisfy(isFinite),
              crystal.volume > 1e-6 * max(edges.reduce(1, *), 1e-12)
        else { throw DataError(file: file, message: "the lattice is singular or not finite (volume \(crystal.volume) Å³)") }
        if let bad = crystal.fractionalCoordinates.firstIndex(where: { !isFinite($0) }) {
            throw DataError(file: file, message: "site \(bad + 1) (\(crystal.species[bad].symbol)) has a coordinate that is not a finite number")
        }
        var features = [[Double]](repeating: [Double](repeating: 0, count: basis.count), count: crystal.species.count)
        for pair in crystal.distances(cutoff: cutoff) {
            for (index, value) in basis.expand(pair.distance).enumerated() { features[pair.i][index] += value }
        }
        return (crystal.species.map(\.atomicNumber), features)
    }
}

private func length(_ v: SIMD3<Double>) -> Double { (v * v).sum().squareRoot() }
private func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
private func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
private func isFinite(_ v: SIMD3<Double>) -> Bool { v.x.isFinite && v.y.isFinite && v.z.isFinite }
