import CBLAS

/// A = U·diag(S)·Vᵀ of a real matrix, computed in Double by LAPACK's divide-and-conquer `dgesdd`
/// (the routine `torch.linalg.svd` calls on CPUs). Each pair of singular vectors is unique only up
/// to a common sign; LAPACK picks it. Matrices are row-major; k = min(m, n).
public struct SingularValueDecomposition: Sendable {
    /// LAPACK did not converge (or rejected an argument).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let rows: Int, columns: Int
    /// U: (m, m) for a full decomposition, else (m, k).
    public let u: [Double]
    /// The singular values, descending: (k).
    public let singularValues: [Double]
    /// Vᵀ: (n, n) for a full decomposition, else (k, n).
    public let vt: [Double]
    /// The number of columns of U (m or k), which is also the number of rows of Vᵀ (n or k).
    public var uColumns: Int { u.count / rows }
    public var vtRows: Int { vt.count / columns }

    /// Decomposes `matrix`: (rows, columns), row-major. `fullMatrices` asks for square U and Vᵀ
    /// (LAPACK's job 'A', as `torch.linalg.svd(full_matrices=True)`), otherwise the thin factors (job
    /// 'S'). Throws ``Failure`` when LAPACK does not converge.
    public init(_ matrix: [Double], rows: Int, columns: Int, fullMatrices: Bool = false) throws {
        tensorCheck(rows > 0 && columns > 0 && matrix.count == rows * columns, "svd", "a \(rows) × \(columns) matrix with \(matrix.count) values")
        let k = min(rows, columns)
        let (uColumns, vtRows) = fullMatrices ? (rows, columns) : (k, k)
        // LAPACK is column-major: copy A so that it decomposes A itself, not Aᵀ.
        var a = [Double](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { a[j * rows + i] = matrix[i * columns + j] } }
        var s = [Double](repeating: 0, count: k)
        var u = [Double](repeating: 0, count: rows * uColumns), vt = [Double](repeating: 0, count: vtRows * columns)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var job = Int8(UInt8(ascii: fullMatrices ? "A" : "S"))
        var (m, n, lda, ldu, ldvt) = (Int32(rows), Int32(columns), Int32(rows), Int32(rows), Int32(vtRows))
        var info: Int32 = 0
        func run(_ work: inout [Double], _ size: Int32) {
            var lwork = size
            dgesdd_(&job, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
        }
        var query = [0.0]
        run(&query, -1)
        var work = [Double](repeating: 0, count: max(1, Int(query[0])))
        run(&work, Int32(work.count))
        guard info == 0 else {
            throw Failure(description: info < 0 ? "svd: dgesdd rejected argument \(-info)" : "svd: dgesdd did not converge (info \(info))")
        }
        self.rows = rows
        self.columns = columns
        singularValues = s
        self.u = (0..<(rows * uColumns)).map { index in u[(index % uColumns) * rows + index / uColumns] }
        self.vt = (0..<(vtRows * columns)).map { index in vt[(index % columns) * vtRows + index / columns] }
    }
}
