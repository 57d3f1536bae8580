import KibanTensor
import Testing

/// LAPACK's `dgesdd` through ``SingularValueDecomposition``: the factors rebuild the matrix, U and V
/// are orthonormal, and the singular values are the known ones, for wide, tall, thin and full cases.
@Suite("Singular value decomposition")
struct SingularValueDecompositionTests {
    /// A (rows, columns) matrix of uniform values in [−1, 1).
    func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> [Double] {
        let generator = RandomGenerator(seed: seed)
        return (0..<(rows * columns)).map { _ in Double(generator.uniform()) * 2 - 1 }
    }

    @Test(arguments: [(5, 3, false), (5, 3, true), (3, 5, false), (3, 5, true), (4, 4, true)])
    func factorsRebuildTheMatrix(rows: Int, columns: Int, full: Bool) throws {
        let matrix = randomMatrix(rows: rows, columns: columns, seed: UInt64(rows * 10 + columns))
        let svd = try SingularValueDecomposition(matrix, rows: rows, columns: columns, fullMatrices: full)
        let k = min(rows, columns)
        #expect(svd.uColumns == (full ? rows : k) && svd.vtRows == (full ? columns : k))
        #expect(svd.singularValues.count == k && zip(svd.singularValues, svd.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
        for i in 0..<rows {
            for j in 0..<columns {
                let rebuilt = (0..<k).map { svd.u[i * svd.uColumns + $0] * svd.singularValues[$0] * svd.vt[$0 * columns + j] }.reduce(0, +)
                #expect(abs(rebuilt - matrix[i * columns + j]) <= 1e-12)
            }
        }
        for a in 0..<svd.uColumns {
            for b in 0..<svd.uColumns {
                let dot = (0..<rows).map { svd.u[$0 * svd.uColumns + a] * svd.u[$0 * svd.uColumns + b] }.reduce(0, +)
                #expect(abs(dot - (a == b ? 1 : 0)) <= 1e-12, "Uᵀ·U at (\(a), \(b))")
            }
        }
        for a in 0..<svd.vtRows {
            for b in 0..<svd.vtRows {
                let dot = (0..<columns).map { svd.vt[a * columns + $0] * svd.vt[b * columns + $0] }.reduce(0, +)
                #expect(abs(dot - (a == b ? 1 : 0)) <= 1e-12, "Vᵀ·V at (\(a), \(b))")
            }
        }
    }

    /// [[3, 0], [0, −4], [0, 0]] has singular values 4 and 3.
    @Test func knownSingularValues() throws {
        let svd = try SingularValueDecomposition([3, 0, 0, -4, 0, 0], rows: 3, columns: 2)
        #expect(svd.singularValues.map { ($0 * 1e12).rounded() / 1e12 } == [4, 3])
    }
}
