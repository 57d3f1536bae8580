import CBLAS
import KibanKernels

// Dim legend: m rows of C, n columns of C, k the inner dimension.

/// Whether a GEMM reads an operand as stored or transposed.
enum GEMMTranspose {
    case noTranspose, transpose

    var flag: Int32 { self == .transpose ? 1 : 0 }
    var cblas: CBLAS_TRANSPOSE { self == .transpose ? CblasTrans : CblasNoTrans }
}

/// The implementation that runs float32 matrix products.
public enum GEMMBackend: String, Sendable {
    /// Kiban's own kernel (`kb_sgemm`), on CPUs with AVX-512.
    case kiban
    /// OpenBLAS's `cblas_sgemm`.
    case openBLAS

    /// Kiban's kernel while the active kernel path (`KIBAN_KERNELS`, default the best the CPU has) is AVX-512,
    /// else OpenBLAS.
    public static var active: GEMMBackend { kb_active_path() == KB_PATH_AVX512 ? .kiban : .openBLAS }

    /// Whether each row of a product is the same bit for bit whatever other rows are computed with it, so
    /// outputs do not change with batch size or order. OpenBLAS computes rows in edge tiles with other
    /// micro-kernels, which changes their last bits.
    public var rowsAreBatchInvariant: Bool { self == .kiban }
}

/// The precision of the products float32 tensors are multiplied in, for a scope: `float32`, or
/// `bf16` mixed precision (operands rounded to bfloat16, products accumulated in float32, inputs and
/// outputs float32), as `torch.autocast(dtype=torch.bfloat16)` does for matrix products. Parameters,
/// activations, gradients and optimizer state stay float32 either way.
public enum GEMMPrecision: String, Codable, Sendable, CaseIterable {
    case float32
    case bfloat16 = "bf16"

    @TaskLocal static var scoped: GEMMPrecision = .float32

    /// The precision `gemm` uses on this thread (float32 outside ``with(_:_:)``).
    public static var current: GEMMPrecision { scoped }

    /// Whether this CPU runs the precision: bf16 needs AVX-512 with AVX512_BF16 (`kb_sgemm_bf16`).
    public var isSupported: Bool { self == .float32 || kb_bf16_gemm_supported() != 0 }

    /// Runs `body` with every matrix product in `precision`, threads included.
    public static func with<Result>(_ precision: GEMMPrecision, _ body: () throws -> Result) rethrows -> Result {
        try $scoped.withValue(precision) { try body() }
    }
}

/// What a GEMM does to C once its sum is complete, tile by tile while the tile is in cache
/// (`kb_gemm_epilogue`): C += residual, then activated = GELU(C) with C keeping the pre-activation.
/// Each step equals the separate operation bit for bit.
struct GEMMEpilogue {
    /// A matrix of C's shape added to it: (pointer, leading dimension).
    var residual: (UnsafePointer<Float>, Int)?
    /// Where GELU(C) goes: (pointer, leading dimension), and the GELU form.
    var activated: (UnsafeMutablePointer<Float>, Int, GELUApproximation)?

    /// The kernel's epilogue for the block of C that starts at row `i`, column `j`.
    func kernelEpilogue(row i: Int, column j: Int) -> kb_gemm_epilogue {
        kb_gemm_epilogue(
            residual: residual.map { $0.0 + i * $0.1 + j }, ldr: residual?.1 ?? 0,
            activated: activated.map { $0.0 + i * $0.1 + j }, ld_activated: activated?.1 ?? 0,
            gelu_tanh: activated?.2 == .tanh ? 1 : 0)
    }

    /// Applies the epilogue to C's block at `rows` × `columns` as a separate pass (the paths without a fused one).
    func apply(rows: Range<Int>, columns: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var block = kernelEpilogue(row: rows.lowerBound, column: columns.lowerBound)
        kb_gemm_epilogue_apply(&block, 0, 0, rows.count, columns.count, c + rows.lowerBound * ldc + columns.lowerBound, ldc)
    }
}

/// C = α·op(A)·op(B) + β·C, then `epilogue`, for row-major single matrices; op(A): (m, k), op(B): (k, n).
/// Operands are (pointer, leading dimension) pairs; when β = 0, C is not read.
///
/// Where the CPU has AVX-512, Kiban's own kernel runs it (`kb_sgemm` in `Kernels/sgemm.c`), split
/// over threads by whole row tiles or column panels. Its summation order depends only on k, so each
/// element of C is the same bit for bit whatever m, n and the split are: a sequence's outputs do not
/// depend on the batch it is in. Elsewhere OpenBLAS runs it. Under ``GEMMPrecision/bfloat16`` the
/// operands are rounded to bf16 (`kb_sgemm_bf16`), with the same row invariance.
func gemm(
    _ transposeA: GEMMTranspose, _ transposeB: GEMMTranspose, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: (UnsafeMutablePointer<Float>, Int), _ b: (UnsafeMutablePointer<Float>, Int), _ beta: Float,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, epilogue: GEMMEpilogue? = nil
) {
    guard m > 0 && n > 0 else { return }
    guard k > 0 else {
        for row in 0..<m {
            for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
        }
        epilogue?.apply(rows: 0..<m, columns: 0..<n, c: c, ldc: ldc)
        return
    }
    let problem = GEMMProblem(
        precision: GEMMPrecision.current, transposeA: transposeA, transposeB: transposeB, alpha: alpha, a: a.0, lda: a.1, b: b.0, ldb: b.1, beta: beta,
        c: c, ldc: ldc, k: k, epilogue: epilogue)
    guard GEMMBackend.active == .kiban else {
        problem.runBLAS(rows: 0..<m, columns: 0..<n)
        return
    }
    let splitRows = n <= m  // each task packs all of op(B) then, which is the smaller operand
    let (unit, units) = splitRows ? (GEMMProblem.rowTile, m) : (GEMMProblem.columnPanel, n)
    let tiles = (units + unit - 1) / unit
    let workPerTile = unit * (splitRows ? n : m) * k
    let minimumTiles = (GEMMProblem.minimumWorkPerThread + workPerTile - 1) / workPerTile
    Threading.parallelFor(tiles, minimumPerTask: minimumTiles) { range in
        let part = (range.lowerBound * unit)..<Swift.min(range.upperBound * unit, units)
        if splitRows { problem.run(rows: part, columns: 0..<n) } else { problem.run(rows: 0..<m, columns: part) }
    }
}

/// One GEMM call's operands, with the arithmetic to run any block of C.
private struct GEMMProblem {
    /// Rows of the AVX-512 register tile and columns of a packed B panel (Kernels/sgemm.c): splits along
    /// whole tiles and panels waste nothing at the edges.
    static let rowTile = 12, columnPanel = 32
    /// Multiply-adds below which a thread is not worth waking (about 10 µs of one core).
    static let minimumWorkPerThread = 1 << 21

    let precision: GEMMPrecision
    let transposeA: GEMMTranspose, transposeB: GEMMTranspose
    let alpha: Float
    let a: UnsafeMutablePointer<Float>, lda: Int
    let b: UnsafeMutablePointer<Float>, ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let k: Int
    let epilogue: GEMMEpilogue?

    /// Pointers to the first element of op(A)'s `rows`, op(B)'s `columns` and C's block.
    private func offsets(rows: Range<Int>, columns: Range<Int>) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let (i, j) = (rows.lowerBound, columns.lowerBound)
        return (
            a + (transposeA == .transpose ? i : i * lda), b + (transposeB == .transpose ? j * ldb : j),
            c + i * ldc + j
        )
    }

    /// The block of C at `rows` × `columns` with Kiban's kernel in the problem's precision (in float32
    /// where bf16 cannot run, on OpenBLAS if the kernel's buffers cannot be allocated).
    func run(rows: Range<Int>, columns: Range<Int>) {
        let (blockA, blockB, blockC) = offsets(rows: rows, columns: columns)
        let (m, n, ta, tb) = (rows.count, columns.count, transposeA.flag, transposeB.flag)
        let kernel = { (fused: UnsafePointer<kb_gemm_epilogue>?) -> Bool in
            if precision == .bfloat16
                && kb_sgemm_bf16(ta, tb, m, n, k, alpha, blockA, lda, blockB, ldb, beta, blockC, ldc, fused) == 1
            {
                return true
            }
            return kb_sgemm(ta, tb, m, n, k, alpha, blockA, lda, blockB, ldb, beta, blockC, ldc, fused) == 1
        }
        let ran: Bool
        if var fused = epilogue?.kernelEpilogue(row: rows.lowerBound, column: columns.lowerBound) {
            ran = kernel(&fused)
        } else {
            ran = kernel(nil)
        }
        if !ran { runBLAS(rows: rows, columns: columns) }
    }

    /// The block of C at `rows` × `columns` with OpenBLAS.
    func runBLAS(rows: Range<Int>, columns: Range<Int>) {
        let (blockA, blockB, blockC) = offsets(rows: rows, columns: columns)
        Threading.configureBLAS()
        cblas_sgemm(
            CblasRowMajor, transposeA.cblas, transposeB.cblas, Int32(rows.count), Int32(columns.count), Int32(k), alpha,
            blockA, Int32(lda), blockB, Int32(ldb), beta, blockC, Int32(ldc))
        epilogue?.apply(rows: rows, columns: columns, c: c, ldc: ldc)
    }
}
