import Foundation
import KibanKernels
import Testing

// bf16 GEMM (Kernels/bf16gemm.c, contract in kiban_bf16.h): every element of op(A) and op(B) is rounded to bf16 and
// the products are accumulated in float32 as VDPBF16PS does (odd element of a pair first, x86 flush-to-zero).
// Legend: m rows of C, n columns, k the inner dimension; shapes and data come from SGEMMKernelTests (SGEMMProblem,
// sgemmCases). Checked: kb_bf16_round rounds as the header says (nearest even, subnormals to a signed zero, NaN
// quieted, overflow to ±inf) and the k block length is the float32 one rounded up to even; the scalar reference
// equals a Double product of the bf16-rounded operands within its rounding bound on every sgemmCases shape and
// (α, β), never reads C when β = 0 (C full of NaN) and leaves C's padding columns alone; sums at the flush-to-zero
// boundary land where the header's rule puts them; bf16 really rounds (it differs from the float32 GEMM on random
// data, and equals it where every operand and sum is exact). Where the CPU has AVX-512 BF16: the fast path equals
// the reference bit for bit (also with NaN, infinities, subnormals and sums around FLT_MIN), row and column blocks
// computed alone equal the whole product, and the dispatcher declines, leaving C alone, off the AVX-512 path.

/// The (α, β) every case runs with: a plain product, accumulation into C, and a scaled C.
private let bf16Scalings: [(alpha: Float, beta: Float)] = [(1, 0), (0.5, 1), (1, 0.25)]

extension SGEMMProblem {
    /// `problem`'s shape, transposes, α, β and strides with other operands (of the lengths of its a, b and c).
    init(_ problem: SGEMMProblem, a: [Float], b: [Float], c: [Float]) {
        (self.transA, self.transB) = (problem.transA, problem.transB)
        (self.m, self.n, self.k) = (problem.m, problem.n, problem.k)
        (self.alpha, self.beta) = (problem.alpha, problem.beta)
        (self.lda, self.ldb, self.ldc) = (problem.lda, problem.ldb, problem.ldc)
        (self.a, self.b, self.c) = (a, b, c)
    }
}

/// The sgemmCases problem `shape` ([m, n, k, transpose bits]) with α and β (C full of NaN when β = 0).
private func bf16Problem(_ shape: [Int], alpha: Float = 1, beta: Float = 0) -> SGEMMProblem {
    SGEMMProblem(
        m: shape[0], n: shape[1], k: shape[2], transA: shape[3] & 1 != 0, transB: shape[3] & 2 != 0, alpha: alpha,
        beta: beta)
}

/// `problem` with NaN (quiet and signalling), ±inf, float32 subnormals, FLT_MAX and −0 written over a few
/// elements of op(A) and of op(B).
private func withSpecialValues(_ problem: SGEMMProblem) -> SGEMMProblem {
    let specials: [Float] = [
        .nan, .infinity, -.infinity, .leastNormalMagnitude / 3, -.leastNonzeroMagnitude, .greatestFiniteMagnitude, -0.0,
        Float(bitPattern: 0x7F80_0001),
    ]
    var rng = SplitMix64(state: 23)
    var (a, b) = (problem.a, problem.b)
    for (index, special) in specials.enumerated() {
        let (i, p) = (Int(rng.next() % UInt64(problem.m)), Int(rng.next() % UInt64(problem.k)))
        a[problem.transA ? p * problem.lda + i : i * problem.lda + p] = special
        let (q, j) = (Int(rng.next() % UInt64(problem.k)), Int(rng.next() % UInt64(problem.n)))
        b[problem.transB ? j * problem.ldb + q : q * problem.ldb + j] = specials[(index + 3) % specials.count]
    }
    return SGEMMProblem(problem, a: a, b: b, c: problem.c)
}

/// `problem` scaled so that its products lie around FLT_MIN (A by 2⁻⁶², B by 2⁻⁶³, C by 2⁻¹²⁴): most elements of
/// C pass through partial sums that the flush-to-zero rule turns into zeros.
private func nearFlushBoundary(_ problem: SGEMMProblem) -> SGEMMProblem {
    SGEMMProblem(
        problem, a: problem.a.map { $0 * 0x1p-62 }, b: problem.b.map { $0 * 0x1p-63 },
        c: problem.c.map { $0 * 0x1p-124 })
}

/// A 2 × 4 product with k = 2 whose pairs sum, exactly, to just under FLT_MIN: the pair's odd step gives ±FLT_MIN,
/// its even step adds ∓2⁻¹⁵¹ (the rounding tie with unbounded exponent, which rounds up to FLT_MIN: kept),
/// ∓2⁻¹⁵¹·(1 + 2⁻⁷) (rounds below FLT_MIN: flushed), ∓2⁻¹⁵² (kept) and ∓2⁻¹⁴⁹ (a float32 subnormal: flushed),
/// row 1 being row 0 negated. Returns the problem and the bit patterns of C it must give; gradual underflow would
/// give ±FLT_MIN for the first three columns and a subnormal for the last.
private func flushBoundaryProblem() -> (problem: SGEMMProblem, expected: [UInt32]) {
    let base = SGEMMProblem(m: 2, n: 4, k: 2, transA: false, transB: false)
    var a = [Float](repeating: 0, count: base.a.count), b = [Float](repeating: 0, count: base.b.count)
    for (p, x) in [Float(-0x1p-75), 1].enumerated() {
        a[p] = x
        a[base.lda + p] = -x
    }
    for (j, factor) in [Float(0x1p-76), 0x1.02p-76, 0x1p-77, 0x1p-74].enumerated() {
        b[j] = factor
        b[base.ldb + j] = .leastNormalMagnitude
    }
    let expected: [UInt32] = [0x0080_0000, 0, 0x0080_0000, 0, 0x8080_0000, 0x8000_0000, 0x8080_0000, 0x8000_0000]
    return (SGEMMProblem(base, a: a, b: b, c: base.c), expected)
}

/// C (m, n) of `values` laid out with row stride ldc, as bit patterns.
private func productBits(_ values: [Float], of problem: SGEMMProblem) -> [UInt32] {
    (0..<problem.m).flatMap { i in (0..<problem.n).map { values[i * problem.ldc + $0].bitPattern } }
}

/// Per element of C (m, n): Σ_p op(A)[i, p]·op(B)[p, j] and Σ_p |op(A)[i, p]·op(B)[p, j]| over the bf16-rounded
/// operands, in Double (a product of two bf16 values is exact in Double).
private func roundedProducts(_ problem: SGEMMProblem) -> (sum: [Double], magnitude: [Double]) {
    let a = problem.a.map { Double(kb_bf16_round($0)) }, b = problem.b.map { Double(kb_bf16_round($0)) }
    var sum = [Double](repeating: 0, count: problem.m * problem.n), magnitude = sum
    for i in 0..<problem.m {
        for j in 0..<problem.n {
            var (total, absolute) = (0.0, 0.0)
            for p in 0..<problem.k {
                let x = problem.transA ? a[p * problem.lda + i] : a[i * problem.lda + p]
                let y = problem.transB ? b[j * problem.ldb + p] : b[p * problem.ldb + j]
                total += x * y
                absolute += abs(x * y)
            }
            sum[i * problem.n + j] = total
            magnitude[i * problem.n + j] = absolute
        }
    }
    return (sum, magnitude)
}

/// The first index where `got` and `want` differ in bit pattern, NaN matching any NaN (payloads may differ), or nil.
private func firstDifferenceUpToNaNPayload(_ got: [Float], _ want: [Float]) -> Int? {
    zip(got, want).enumerated().first { entry in
        let (x, y) = entry.element
        return x.bitPattern != y.bitPattern && !(x.isNaN && y.isNaN)
    }?.offset
}

/// kb_sgemm_bf16_scalar as an SGEMMProblem kernel.
private func bf16Scalar(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    kb_sgemm_bf16_scalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

/// kb_sgemm_scalar, the float32 GEMM, as an SGEMMProblem kernel.
private func float32Scalar(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    kb_sgemm_scalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

/// kb_sgemm_bf16, the dispatcher, as an SGEMMProblem kernel that must run.
private func bf16Dispatcher(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    precondition(kb_sgemm_bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil) == 1, "kb_sgemm_bf16 did not run")
}

#if arch(x86_64)
/// kb_sgemm_bf16_avx512 as an SGEMMProblem kernel; it fails only when its packing buffers cannot be allocated.
private func bf16AVX512(
    _ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int,
    _ b: UnsafePointer<Float>?, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int
) {
    precondition(
        kb_sgemm_bf16_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil) == 1,
        "kb_sgemm_bf16_avx512 could not allocate its packing buffers")
}
#endif

/// Runs `body` with `path` active, then restores the path KIBAN_KERNELS selects.
private func withActivePath<Result>(_ path: kb_path, _ body: () -> Result) -> Result {
    precondition(kb_set_path(path) == 1, "path \(path) is not supported here")
    defer { kb_reload_path_from_env() }
    return body()
}

/// Serialized: the dispatcher test switches the process-wide kernel path.
@Suite(.serialized) struct BF16GEMMKernelTests {
    /// The bf16 spacing at 1 is 2⁻⁷; the largest bf16 value is 0x1.fep127.
    @Test func roundingFollowsTheHeader() {
        #expect(kb_bf16_round(1 + 0x1p-8) == 1, "a tie goes to the even neighbour")
        #expect(kb_bf16_round(1 + 3 * 0x1p-9) == 1 + 0x1p-7, "past the tie rounds up")
        #expect(kb_bf16_round(1 + 3 * 0x1p-8) == 1 + 0x1p-6, "a tie between odd and even goes to the even neighbour")
        #expect(kb_bf16_round(-(1 + 0x1p-8)) == -1)
        #expect(kb_bf16_round(0.1) == Float(bitPattern: 0x3DCD_0000))
        #expect(kb_bf16_round(Float(bitPattern: 0x3FFF_FFFF)) == 2, "rounding up carries into the exponent")
        let subnormal = Float.leastNormalMagnitude / 3
        #expect(kb_bf16_round(subnormal).bitPattern == 0, "a float32 subnormal becomes +0")
        #expect(kb_bf16_round(-subnormal).bitPattern == 0x8000_0000, "a negative subnormal becomes −0")
        #expect(kb_bf16_round(-0.0).bitPattern == 0x8000_0000)
        #expect(kb_bf16_round(.leastNormalMagnitude) == .leastNormalMagnitude, "FLT_MIN is a bf16 value")
        #expect(kb_bf16_round(.infinity) == .infinity && kb_bf16_round(-.infinity) == -.infinity)
        #expect(kb_bf16_round(.nan).isNaN)
        let signalling = kb_bf16_round(Float(bitPattern: 0x7F80_0001))
        #expect(signalling.isNaN && !signalling.isSignalingNaN, "a signalling NaN comes back quiet, not \(signalling)")
        #expect(kb_bf16_round(0x1.fep127) == 0x1.fep127)
        #expect(kb_bf16_round(Float(bitPattern: 0x7F7F_7FFF)) == 0x1.fep127, "under the tie above the largest bf16")
        #expect(kb_bf16_round(Float(bitPattern: 0x7F7F_8000)) == .infinity, "the tie above the largest bf16 overflows")
        #expect(kb_bf16_round(.greatestFiniteMagnitude) == .infinity, "FLT_MAX is past the largest bf16")
        #expect(kb_bf16_round(-.greatestFiniteMagnitude) == -.infinity)
    }

    /// kb_sgemm_block_length rounded up to even (0 for k ≤ 0): 385 has float32 blocks of 193, bf16 blocks of 194.
    @Test func blockLengthIsTheFloat32OneRoundedUpToEven() {
        let expected: [(k: Int, length: Int)] = [
            (-3, 0), (0, 0), (1, 2), (2, 2), (384, 384), (385, 194), (1280, 320), (1537, 308),
        ]
        for (k, length) in expected {
            #expect(kb_sgemm_bf16_block_length(k) == length, "k = \(k)")
        }
    }

    @Suite struct ScalarReference {
        /// |C − (α·Σ a·b + β·c)| ≤ (k + 2)·2⁻²⁴·(|α|·Σ|a·b| + |β·c|) over the bf16-rounded operands: one float32
        /// rounding per step of the sum (each partial sum at most Σ|a·b|), plus the β step and the block steps.
        @Test(arguments: sgemmCases)
        func equalsDoubleProductOfRoundedOperands(_ shape: [Int]) {
            let exact = roundedProducts(bf16Problem(shape))
            for (alpha, beta) in bf16Scalings {
                let problem = bf16Problem(shape, alpha: alpha, beta: beta)
                let got = problem.run(bf16Scalar)
                var failures = [String]()
                for i in 0..<problem.m {
                    for j in 0..<problem.n {
                        let (index, product) = (i * problem.ldc + j, i * problem.n + j)
                        let scaledC = beta == 0 ? 0 : Double(beta) * Double(problem.c[index])
                        let want = Double(alpha) * exact.sum[product] + scaledC
                        let magnitude = Double(abs(alpha)) * exact.magnitude[product] + abs(scaledC)
                        let bound = Double(problem.k + 2) * 0x1p-24 * magnitude
                        if !(abs(Double(got[index]) - want) <= bound) {
                            failures.append("C[\(i), \(j)] = \(got[index]), expected \(want) ± \(bound)")
                        }
                    }
                    let row = i * problem.ldc
                    for j in problem.n..<problem.ldc where got[row + j].bitPattern != problem.c[row + j].bitPattern {
                        failures.append("padding C[\(i), \(j)] written")
                    }
                }
                let summary = "\(failures.count) wrong, first \(failures.first ?? "")"
                #expect(failures.isEmpty, "\(shape) α \(alpha) β \(beta): \(summary)")
            }
        }

        @Test func flushToZeroFollowsTheHeader() {
            let (problem, expected) = flushBoundaryProblem()
            #expect(productBits(problem.run(bf16Scalar), of: problem) == expected)
        }

        /// On random data bf16 rounding moves nearly every element of C by about 2⁻⁹ of its size: a bf16 GEMM
        /// that silently ran in float32 would fail here.
        @Test func differsFromFloat32OnRandomData() {
            let problem = SGEMMProblem(m: 37, n: 45, k: 23, transA: false, transB: false)
            let bf16 = problem.run(bf16Scalar), float32 = problem.run(float32Scalar)
            let differences = (0..<problem.m).flatMap { i in
                (0..<problem.n).map { abs(bf16[i * problem.ldc + $0] - float32[i * problem.ldc + $0]) }
            }
            let differing = differences.filter { $0 != 0 }.count
            #expect(differing * 10 > differences.count * 9, "only \(differing) of \(differences.count) elements differ")
            #expect((differences.max() ?? 0) > 1e-3, "largest difference \(differences.max() ?? 0)")
        }

        /// Integers in [−8, 8] are bf16 values and every sum of their products is exact, so bf16 and float32 agree
        /// bit for bit on every transpose, over one k block and two.
        @Test(arguments: [0, 1, 2, 3])
        func equalsFloat32WhereEverythingIsExact(_ transposes: Int) {
            for (k, beta) in [(23, Float(0)), (23, 1), (385, 0)] {
                let base = bf16Problem([37, 45, k, transposes], alpha: 0.5, beta: beta)
                let problem = SGEMMProblem(
                    base, a: base.a.map { ($0 * 8).rounded() }, b: base.b.map { ($0 * 8).rounded() }, c: base.c)
                let difference = firstDifferenceUpToNaNPayload(problem.run(bf16Scalar), problem.run(float32Scalar))
                #expect(difference == nil, "k \(k) β \(beta), transposes \(transposes): C[\(difference ?? -1)]")
            }
        }
    }

    #if arch(x86_64)
    @Suite(
        .enabled(if: kb_bf16_gemm_supported() != 0, "this CPU has no AVX-512 BF16, or the kernel path is not avx512"))
    struct AVX512BF16 {
        /// Random operands with every (α, β); NaN, infinities and subnormals; sums around FLT_MIN, with and
        /// without C. NaN results need only be NaN on both (the header allows other payloads).
        @Test(arguments: sgemmCases)
        func equalsScalarBitForBit(_ shape: [Int]) {
            var inputs = bf16Scalings.map { alpha, beta in
                ("random, α \(alpha) β \(beta)", bf16Problem(shape, alpha: alpha, beta: beta))
            }
            let withC = bf16Problem(shape, alpha: 1, beta: 0.25)
            inputs.append(("NaN, ±inf, subnormals, FLT_MAX", withSpecialValues(withC)))
            inputs.append(("products around FLT_MIN", nearFlushBoundary(bf16Problem(shape))))
            inputs.append(("products around FLT_MIN, β 0.25", nearFlushBoundary(withC)))
            for (name, problem) in inputs {
                let fast = problem.run(bf16AVX512), reference = problem.run(bf16Scalar)
                let difference = firstDifferenceUpToNaNPayload(fast, reference)
                let values = difference.map { "\(fast[$0]), reference \(reference[$0])" } ?? ""
                #expect(difference == nil, "\(shape) \(name): C[\(difference ?? -1)] = \(values)")
            }
        }

        @Test func flushToZeroMatchesTheReference() {
            let (problem, expected) = flushBoundaryProblem()
            #expect(productBits(problem.run(bf16AVX512), of: problem) == expected)
        }

        /// Rows and columns computed in any split equal the whole product: a row does not depend on its neighbours.
        @Test(arguments: [[61, 70, 1537, 0], [37, 45, 23, 3], [100, 300, 129, 1], [25, 48, 385, 2]])
        func blocksEqualTheWholeProduct(_ shape: [Int]) {
            let problem = bf16Problem(shape)
            let whole = problem.run(bf16AVX512).map(\.bitPattern)
            for split in [1, 5, 12, 13, problem.m / 2] where split < problem.m {
                let top = problem.run(bf16AVX512, rows: 0..<split).map(\.bitPattern)
                let bottom = problem.run(bf16AVX512, rows: split..<problem.m).map(\.bitPattern)
                let row = split * problem.ldc
                #expect(Array(top[..<row]) == Array(whole[..<row]), "\(shape): rows above \(split)")
                #expect(Array(bottom[row...]) == Array(whole[row...]), "\(shape): rows from \(split)")
            }
            for split in [1, 16, 17, 33] where split < problem.n {
                let left = problem.run(bf16AVX512, columns: 0..<split).map(\.bitPattern)
                let right = problem.run(bf16AVX512, columns: split..<problem.n).map(\.bitPattern)
                for i in 0..<problem.m {
                    let (start, middle, end) = (i * problem.ldc, i * problem.ldc + split, i * problem.ldc + problem.n)
                    let (leftPart, rightPart) = (start..<middle, middle..<end)
                    #expect(Array(left[leftPart]) == Array(whole[leftPart]), "\(shape): row \(i) left of \(split)")
                    #expect(Array(right[rightPart]) == Array(whole[rightPart]), "\(shape): row \(i) right of \(split)")
                }
            }
        }

        /// Off the AVX-512 path kb_sgemm_bf16 returns 0 and leaves C alone (callers fall back to float32); on it,
        /// the dispatcher is the AVX-512 kernel.
        @Test func dispatcherRunsOnlyOnTheAVX512Path() {
            let problem = SGEMMProblem(m: 5, n: 7, k: 9, transA: false, transB: true, beta: 0.5)
            let declined = withActivePath(KB_PATH_AVX2) { () -> Bool in
                var c = problem.c
                let ran = kb_sgemm_bf16(
                    0, 1, 5, 7, 9, 1, problem.a, problem.lda, problem.b, problem.ldb, 0.5, &c, problem.ldc, nil)
                return kb_bf16_gemm_supported() == 0 && ran == 0 && c.map(\.bitPattern) == problem.c.map(\.bitPattern)
            }
            #expect(declined, "on the avx2 path kb_sgemm_bf16 must say it is unsupported, return 0 and leave C alone")
            let dispatched = withActivePath(KB_PATH_AVX512) { problem.run(bf16Dispatcher) }
            #expect(dispatched.map(\.bitPattern) == problem.run(bf16AVX512).map(\.bitPattern))
        }
    }
    #endif
}
