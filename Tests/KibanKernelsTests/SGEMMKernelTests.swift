import Foundation
import KibanKernels
import Testing

// float32 GEMM (Kernels/sgemm.c). Legend: m rows of C, n columns, k the inner dimension. The scalar reference is
// checked against a Double triple loop; the AVX-512 path must equal the reference bit for bit (both follow the
// header's summation order), and any block of rows or columns computed alone must equal the same block of the
// whole product (what makes model outputs independent of the batch).

/// (m, n, k) shapes: single rows and columns; m off the 12-row tile; n off the 32- and 16-column panels and the
/// 256-column block; k at, below and above the 384 block length (385 gives two blocks of 193), and long.
let sgemmShapes: [(m: Int, n: Int, k: Int)] = [
    (1, 1, 1), (1, 17, 5), (3, 16, 7), (12, 32, 16), (13, 33, 384), (25, 48, 385), (7, 257, 20), (37, 45, 23),
    (100, 15, 129), (2, 300, 1000), (61, 70, 1537),
]

/// One seeded GEMM problem with padded leading dimensions (so strides are exercised too).
struct SGEMMProblem {
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int
    let alpha: Float, beta: Float
    let lda: Int, ldb: Int, ldc: Int
    let a: [Float], b: [Float], c: [Float]

    init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float = 1, beta: Float = 0, seed: UInt64 = 11) {
        (self.m, self.n, self.k, self.transA, self.transB, self.alpha, self.beta) = (m, n, k, transA, transB, alpha, beta)
        var rng = SplitMix64(state: seed)
        lda = (transA ? m : k) + 3
        ldb = (transB ? k : n) + 5
        ldc = n + 2
        a = rng.floats((transA ? k : m) * lda)
        b = rng.floats((transB ? n : k) * ldb)
        // With β = 0 the kernel must not read C: NaN there would show through.
        c = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : rng.floats(m * ldc)
    }

    typealias Kernel = (
        Int32, Int32, Int, Int, Int, Float, UnsafePointer<Float>?, Int, UnsafePointer<Float>?, Int, Float,
        UnsafeMutablePointer<Float>?, Int
    ) -> Void

    /// C after `kernel` runs rows `rows` × columns `columns` of the product alone (the whole C by default).
    func run(_ kernel: Kernel, rows: Range<Int>? = nil, columns: Range<Int>? = nil) -> [Float] {
        let rows = rows ?? 0..<m, columns = columns ?? 0..<n
        var out = c
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { out in
                    let (i, j) = (rows.lowerBound, columns.lowerBound)
                    kernel(
                        transA ? 1 : 0, transB ? 1 : 0, rows.count, columns.count, k, alpha,
                        a.baseAddress! + (transA ? i : i * lda), lda, b.baseAddress! + (transB ? j * ldb : j), ldb, beta,
                        out.baseAddress! + i * ldc + j, ldc)
                }
            }
        }
        return out
    }

    /// α·op(A)·op(B) + β·C in Double, with C's padding columns as they were: (m, ldc).
    func exact() -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p], y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                out[i * ldc + j] = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j]))
            }
        }
        return out
    }
}

/// The four transpose combinations with each shape.
let sgemmCases: [[Int]] = sgemmShapes.flatMap { shape in
    [0, 1, 2, 3].map { [shape.m, shape.n, shape.k, $0] }
}

private func scalarKernel(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    kb_sgemm_scalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

private func fastKernel(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    precondition(kb_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil) == 1, "kb_sgemm did not run")
}

/// Bit patterns, so NaN compares equal to NaN at the same place.
private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite(.serialized) struct SGEMMKernelTests {
    @Test func blockLengthsAreBalanced() {
        let expected: [(k: Int, count: Int, length: Int)] = [
            (0, 0, 0), (1, 1, 1), (384, 1, 384), (385, 2, 193), (768, 2, 384), (1280, 4, 320), (2048, 6, 342),
        ]
        for (k, count, length) in expected {
            #expect(kb_sgemm_block_count(k) == count && kb_sgemm_block_length(k) == length, "k = \(k)")
        }
    }

    @Suite struct ScalarReference {
        @Test(arguments: sgemmCases)
        func equalsDoubleProduct(_ shape: [Int]) {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                let problem = SGEMMProblem(
                    m: shape[0], n: shape[1], k: shape[2], transA: shape[3] & 1 != 0, transB: shape[3] & 2 != 0,
                    alpha: alpha, beta: beta)
                let got = problem.run(scalarKernel), want = problem.exact()
                let bound = 1e-5 * Double(problem.k).squareRoot() * Double(max(abs(alpha), 1)) + 1e-6
                let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst <= bound, "\(shape) α \(alpha) β \(beta): worst |Δ| \(worst)")
                for i in 0..<problem.m {
                    for j in problem.n..<problem.ldc {
                        #expect(bits([got[i * problem.ldc + j]]) == bits([problem.c[i * problem.ldc + j]]), "padding of row \(i) written")
                    }
                }
            }
        }

        @Test func zeroInnerDimensionScalesC() {
            let zeroed = SGEMMProblem(m: 3, n: 4, k: 0, transA: false, transB: false, beta: 0).run(scalarKernel)
            #expect((0..<3).allSatisfy { i in (0..<4).allSatisfy { zeroed[i * 6 + $0] == 0 } })
            let problem = SGEMMProblem(m: 3, n: 4, k: 0, transA: false, transB: false, beta: 0.5)
            let scaled = problem.run(scalarKernel)
            #expect((0..<3).allSatisfy { i in (0..<4).allSatisfy { scaled[i * 6 + $0] == 0.5 * problem.c[i * 6 + $0] } })
        }
    }

    @Suite(.enabled(if: kb_path_supported(KB_PATH_AVX512) != 0, "this CPU (or OS) has no AVX-512"))
    struct AVX512 {
        @Test(arguments: sgemmCases)
        func equalsScalarBitForBit(_ shape: [Int]) {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                let problem = SGEMMProblem(
                    m: shape[0], n: shape[1], k: shape[2], transA: shape[3] & 1 != 0, transB: shape[3] & 2 != 0,
                    alpha: alpha, beta: beta)
                let fast = withPath(KB_PATH_AVX512) { problem.run(fastKernel) }
                #expect(bits(fast) == bits(problem.run(scalarKernel)), "\(shape) α \(alpha) β \(beta)")
            }
        }

        /// Rows and columns computed in any split equal the whole product: a row does not depend on its neighbours.
        @Test(arguments: [[61, 70, 1537, 0], [37, 45, 23, 3], [100, 300, 129, 1], [25, 48, 385, 2]])
        func blocksEqualTheWholeProduct(_ shape: [Int]) {
            let problem = SGEMMProblem(
                m: shape[0], n: shape[1], k: shape[2], transA: shape[3] & 1 != 0, transB: shape[3] & 2 != 0, beta: 0)
            withPath(KB_PATH_AVX512) {
                let whole = bits(problem.run(fastKernel))
                for split in [1, 5, 13, problem.m / 2] where split < problem.m {
                    let top = bits(problem.run(fastKernel, rows: 0..<split))
                    let bottom = bits(problem.run(fastKernel, rows: split..<problem.m))
                    let row = split * problem.ldc
                    #expect(Array(top[..<row]) == Array(whole[..<row]) && Array(bottom[row...]) == Array(whole[row...]), "rows split at \(split)")
                }
                for split in [1, 17, 33] where split < problem.n {
                    let left = problem.run(fastKernel, columns: 0..<split)
                    let right = problem.run(fastKernel, columns: split..<problem.n)
                    for i in 0..<problem.m {
                        let line = i * problem.ldc
                        #expect(bits(Array(left[line..<(line + split)])) == Array(whole[line..<(line + split)]), "columns split at \(split), row \(i)")
                        #expect(bits(Array(right[(line + split)..<(line + problem.n)])) == Array(whole[(line + split)..<(line + problem.n)]))
                    }
                }
            }
        }

        /// The residual add and GELU applied tile by tile after the last k block equal the scalar reference
        /// followed by the separate add and GELU, bit for bit: over several row blocks (m > 1536), column blocks
        /// (n > 256) and k blocks, with padded leading dimensions.
        @Test(arguments: [0, 1] as [Int32])
        func epilogueEqualsSeparatePasses(_ tanh: Int32) {
            let problem = SGEMMProblem(m: 1600, n: 300, k: 400, transA: false, transB: true, beta: 1)
            var rng = SplitMix64(state: 3)
            let (ldr, ldg) = (problem.n + 4, problem.n + 1)
            let residual = rng.floats(problem.m * ldr)
            var fusedActivated = [Float](repeating: .nan, count: problem.m * ldg)
            var fused = problem.c
            withPath(KB_PATH_AVX512) {
                residual.withUnsafeBufferPointer { r in
                    fusedActivated.withUnsafeMutableBufferPointer { g in
                        var epilogue = kb_gemm_epilogue(residual: r.baseAddress, ldr: ldr, activated: g.baseAddress, ld_activated: ldg, gelu_tanh: tanh)
                        let ran = kb_sgemm(
                            0, 1, problem.m, problem.n, problem.k, 1, problem.a, problem.lda, problem.b, problem.ldb, 1, &fused,
                            problem.ldc, &epilogue)
                        #expect(ran == 1)
                    }
                }
            }
            var separate = problem.run(scalarKernel)
            var separateActivated = [Float](repeating: .nan, count: problem.m * ldg)
            for i in 0..<problem.m {
                for j in 0..<problem.n { separate[i * problem.ldc + j] += residual[i * ldr + j] }
                separate.withUnsafeBufferPointer { c in
                    separateActivated.withUnsafeMutableBufferPointer { g in
                        let (row, out) = (c.baseAddress! + i * problem.ldc, g.baseAddress! + i * ldg)
                        if tanh == 1 { kb_gelu_tanh_forward(row, out, problem.n) } else { kb_gelu_erf_forward(row, out, problem.n) }
                    }
                }
            }
            #expect(bits(fused) == bits(separate), "C after the residual add")
            #expect(bits(fusedActivated) == bits(separateActivated), "GELU(C), padding columns untouched")
        }

        @Test func dispatcherRunsOnlyOnTheAVX512Path() {
            let problem = SGEMMProblem(m: 5, n: 7, k: 9, transA: false, transB: true, beta: 0)
            let untouched = withPath(KB_PATH_AVX2) { () -> Bool in
                var c = problem.c
                let ran = kb_sgemm(0, 1, 5, 7, 9, 1, problem.a, problem.lda, problem.b, problem.ldb, 0, &c, problem.ldc, nil)
                return ran == 0 && bits(c) == bits(problem.c)
            }
            #expect(untouched, "kb_sgemm must leave C alone and return 0 off the AVX-512 path")
            #expect(withPath(KB_PATH_AVX512) { bits(problem.run(fastKernel)) } == bits(problem.run(scalarKernel)))
        }
    }
}

/// Runs `body` with `path` active, then restores the path KIBAN_KERNELS selects.
private func withPath<Result>(_ path: kb_path, _ body: () -> Result) -> Result {
    precondition(kb_set_path(path) == 1, "path \(path) is not supported here")
    defer { kb_reload_path_from_env() }
    return body()
}
