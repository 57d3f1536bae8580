import Foundation
import KibanKernels
import Testing

// int8 quantisation and GEMM (Kernels/quantize.c, Kernels/int8gemm.c). Legend: m rows, n output channels,
// k input features. The scalar path is checked against Swift's own triple loop on the unpacked weight (so the
// packing is checked too); the VNNI path must equal the scalar path bit for bit, in int32 and in float.

/// (m, n, k) shapes: single rows and columns, k off every multiple of 4/16/64, n off the 16-channel panel and the
/// 64-channel tile, m off the 6-row tile and the 96-row block, and a long k.
let int8Shapes: [(m: Int, n: Int, k: Int)] = [
    (1, 1, 1), (1, 17, 5), (2, 3, 3), (7, 33, 13), (6, 64, 16), (13, 100, 67), (1, 320, 320),
    (97, 130, 1283), (5, 48, 4099), (200, 80, 64), (103, 65, 255),
]

/// Seeded int8 activations, weight, scales and bias for one shape; `extremes` fills x and w with ±127 only
/// (the largest |acc| the contract allows).
struct Int8Problem {
    let m: Int, n: Int, k: Int
    let x: [Int8], w: [Int8]
    let xScales: [Float], wScales: [Float], bias: [Float]
    let packed: [UInt8]

    init(m: Int, n: Int, k: Int, seed: UInt64 = 7, extremes: Bool = false) {
        (self.m, self.n, self.k) = (m, n, k)
        var rng = SplitMix64(state: seed)
        func values(_ count: Int) -> [Int8] {
            (0..<count).map { _ in extremes ? (rng.next() % 2 == 0 ? 127 : -127) : Int8(Int(rng.next() % 255) - 127) }
        }
        x = values(m * k)
        w = values(n * k)
        xScales = (0..<m).map { _ in abs(rng.float(0.05)) }
        wScales = (0..<n).map { _ in abs(rng.float(0.01)) }
        bias = rng.floats(n)
        var packed = [UInt8](repeating: 0xAA, count: kb_int8_packed_bytes(n, k))
        kb_int8_pack_weights(w, n, k, &packed)
        self.packed = packed
    }

    /// Σ_k x[i, k] · w[j, k] in Int, from the unpacked weight: (m, n).
    func exactProducts() -> [Int] {
        var out = [Int](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0
                for t in 0..<k { sum += Int(x[i * k + t]) * Int(w[j * k + t]) }
                out[i * n + j] = sum
            }
        }
        return out
    }

    /// The header's epilogue in its rounding order: ((float)acc · w_scale) · x_scale (+ bias).
    func dequantized(_ products: [Int], withBias: Bool) -> [Float] {
        (0..<(m * n)).map { index in
            let (i, j) = (index / n, index % n)
            var v = Float(Int32(products[index])) * wScales[j]
            v = v * xScales[i]
            return withBias ? v + bias[j] : v
        }
    }

    typealias S32 = (UnsafePointer<Int8>?, UnsafeRawPointer?, UnsafeMutablePointer<Int32>?, Int, Int, Int) -> Void
    typealias F32 = (
        UnsafePointer<Int8>?, UnsafePointer<Float>?, UnsafeRawPointer?, UnsafePointer<Float>?, UnsafePointer<Float>?,
        UnsafeMutablePointer<Float>?, Int, Int, Int
    ) -> Void

    func accumulate(_ kernel: S32) -> [Int32] {
        var acc = [Int32](repeating: .min, count: m * n)
        packed.withUnsafeBytes { kernel(x, $0.baseAddress, &acc, m, n, k) }
        return acc
    }

    func gemm(_ kernel: F32, withBias: Bool) -> [Float] {
        var y = [Float](repeating: .nan, count: m * n)
        packed.withUnsafeBytes { bytes in
            bias.withUnsafeBufferPointer { b in
                kernel(x, xScales, bytes.baseAddress, wScales, withBias ? b.baseAddress : nil, &y, m, n, k)
            }
        }
        return y
    }
}

/// Float arrays compared bit for bit; the first differing index, or nil.
func firstBitDifference(_ a: [Float], _ b: [Float]) -> Int? {
    zip(a, b).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }?.offset
}

/// Quantises one row with `kernel`: (q, scale).
func quantizeRow(_ x: [Float], _ kernel: (UnsafePointer<Float>?, UnsafeMutablePointer<Int8>?, UnsafeMutablePointer<Float>?, Int, Int) -> Void)
    -> (q: [Int8], scale: Float)
{
    var q = [Int8](repeating: 99, count: x.count)
    var scale: Float = .nan
    kernel(x, &q, &scale, 1, x.count)
    return (q, scale)
}

/// Rows that exercise quantisation: random rows of several magnitudes, a row of zeros, a row of one sign, a row
/// with exact halves (max 127 gives scale 1, so x / scale = x), a row with a single non-zero, and rows with a
/// NaN and with an infinity (the paths must agree on them too).
func quantizationRows(n: Int, rng: inout SplitMix64) -> [[Float]] {
    var rows = [rng.floats(n, scale: 3), rng.floats(n, scale: 1e-3), rng.floats(n, scale: 1e4)]
    rows.append([Float](repeating: 0, count: n))
    rows.append(rng.floats(n).map { abs($0) + 0.25 })
    rows.append((0..<n).map { (i: Int) -> Float in i == 0 ? 127 : Float(i % 7) - 3.5 })
    rows.append((0..<n).map { i in i == n / 2 ? -2 : 0 })
    rows.append((0..<n).map { i in i == n - 1 ? .nan : Float(i) })
    rows.append((0..<n).map { i in i == n / 3 ? -.infinity : Float(i) })
    return rows
}

extension KernelPathTests {
    /// The int8 scalar path, always run: packing + scalar GEMM against Swift's exact sums, the epilogue's
    /// rounding order, quantisation rounding and the zero row, and path selection.
    @Suite("int8 scalar path")
    struct Int8Scalar {
        @Test(arguments: int8Shapes.map { [$0.m, $0.n, $0.k] })
        func gemmMatchesExactSums(shape: [Int]) {
            let problem = Int8Problem(m: shape[0], n: shape[1], k: shape[2])
            let exact = problem.exactProducts()
            #expect(problem.accumulate(kb_int8_gemm_s32_scalar).map(Int.init) == exact, "shape \(shape)")
            for withBias in [false, true] {
                let y = problem.gemm(kb_int8_gemm_scalar, withBias: withBias)
                let difference = firstBitDifference(y, problem.dequantized(exact, withBias: withBias))
                #expect(difference == nil, "shape \(shape), bias \(withBias): first difference at \(difference ?? -1)")
            }
        }

        /// k = 131072 with every product +127·127 or −127·127: |acc| reaches 2.1e9, still exact in int32.
        @Test func longestKIsExact() {
            let problem = Int8Problem(m: 2, n: 3, k: 131_072, extremes: true)
            #expect(problem.accumulate(kb_int8_gemm_s32_scalar).map(Int.init) == problem.exactProducts())
        }

        @Test func packingLayoutAndColumnSums() {
            let (n, k) = (17, 5)
            let w = (0..<(n * k)).map { Int8(truncatingIfNeeded: $0 * 7 - 50) }
            #expect(kb_int8_packed_bytes(n, k) == 32 * 8 + 32 * 4)
            var packed = [UInt8](repeating: 0xAA, count: kb_int8_packed_bytes(n, k))
            kb_int8_pack_weights(w, n, k, &packed)
            for j in 0..<32 {
                for i in 0..<8 {
                    let offset = (j / 16) * 16 * 8 + ((i / 4) * 16 + j % 16) * 4 + i % 4
                    let expected = j < n && i < k ? w[j * k + i] : 0
                    #expect(Int8(bitPattern: packed[offset]) == expected, "w[\(j), \(i)]")
                }
                let sum = packed[(256 + 4 * j)..<(260 + 4 * j)].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                #expect(Int(sum) == (j < n ? (0..<k).map { Int(w[j * k + $0]) }.reduce(0, +) : 0), "column sum \(j)")
            }
        }

        /// scale = max|x| / 127 and q = x / scale rounded half to even, clamped to ±127; |x − scale·q| ≤ scale/2.
        @Test func quantizationRoundsHalfToEven() {
            let (q, scale) = quantizeRow([127, 0.5, 1.5, 2.5, -2.5, -0.5, 3.49, -126.5, 126.5], kb_quantize_rows_int8_scalar)
            #expect(scale == 1)
            #expect(q == [127, 0, 2, 2, -2, 0, 3, -126, 126])
            var rng = SplitMix64(state: 3)
            for row in quantizationRows(n: 67, rng: &rng) where row.allSatisfy({ $0.isFinite }) {
                let (q, scale) = quantizeRow(row, kb_quantize_rows_int8_scalar)
                let maximum = row.map(abs).max()!
                #expect(scale == maximum / 127)
                for (x, value) in zip(row, q) {
                    #expect(value != -128)
                    if scale > 0 {
                        #expect(abs(x - scale * Float(value)) <= scale * (0.5 + 1e-5), "x = \(x), q = \(value), scale = \(scale)")
                    }
                }
                if maximum > 0 { #expect(q.map { abs(Int($0)) }.max() == 127) }
            }
        }

        /// A row of zeros quantises to scale 0 and q = 0, and the GEMM gives 0 for it (bias alone), not NaN.
        @Test func zeroRowGivesZeroScaleAndNoNaN() {
            let (k, n) = (37, 20)
            var rng = SplitMix64(state: 5)
            let x = [Float](repeating: 0, count: k) + rng.floats(k)
            var q = [Int8](repeating: 1, count: 2 * k), scales: [Float] = [.nan, .nan]
            kb_quantize_rows_int8(x, &q, &scales, 2, k)
            #expect(scales[0] == 0 && q[0..<k].allSatisfy { $0 == 0 })
            var wq = [Int8](repeating: 0, count: n * k), wScales = [Float](repeating: 0, count: n)
            kb_quantize_rows_int8(rng.floats(n * k), &wq, &wScales, n, k)
            var packed = [UInt8](repeating: 0, count: kb_int8_packed_bytes(n, k))
            kb_int8_pack_weights(wq, n, k, &packed)
            let bias = rng.floats(n)
            var y = [Float](repeating: .nan, count: 2 * n)
            kb_int8_gemm(q, scales, packed, wScales, bias, &y, 2, n, k)
            #expect(Array(y[0..<n]) == bias, "zero row: \(y[0..<n])")
            #expect(y.allSatisfy { $0.isFinite })
        }

        /// A NaN makes its row's scale NaN and every GEMM output of that row NaN; other rows are unaffected.
        @Test func nanRowGivesNaNOutputs() {
            let (k, n) = (21, 5)
            var rng = SplitMix64(state: 9)
            var x = rng.floats(2 * k)
            x[k + 3] = .nan
            var q = [Int8](repeating: 1, count: 2 * k), scales: [Float] = [0, 0]
            kb_quantize_rows_int8_scalar(x, &q, &scales, 2, k)
            #expect(scales[0].isFinite && scales[1].isNaN && q[k...].allSatisfy { $0 == -127 })
            let w = [Int8](repeating: 3, count: n * k)
            var packed = [UInt8](repeating: 0, count: kb_int8_packed_bytes(n, k))
            kb_int8_pack_weights(w, n, k, &packed)
            var y = [Float](repeating: 0, count: 2 * n)
            kb_int8_gemm_scalar(q, scales, packed, [Float](repeating: 0.5, count: n), nil, &y, 2, n, k)
            #expect(y[0..<n].allSatisfy { $0.isFinite } && y[n...].allSatisfy { $0.isNaN }, "\(y)")
        }

        @Test func pathSelectionFollowsKibanKernels() {
            defer { restoreDefaultPath() }
            let vnni = kb_int8_path_supported(KB_INT8_PATH_AVX512_VNNI) != 0
            #expect(kb_int8_path_supported(KB_INT8_PATH_SCALAR) == 1)
            #expect(String(cString: kb_int8_path_name(KB_INT8_PATH_SCALAR)) == "scalar")
            #expect(String(cString: kb_int8_path_name(KB_INT8_PATH_AVX512_VNNI)) == "avx512_vnni")
            #expect(!vnni || KernelPath.avx512.isSupported, "VNNI reported without AVX-512")
            restoreDefaultPath()
            #expect(kb_int8_active_path() == (vnni ? KB_INT8_PATH_AVX512_VNNI : KB_INT8_PATH_SCALAR))
            for path in KernelPath.allCases where path.isSupported {
                force(path)
                let expected = path == .avx512 && vnni ? KB_INT8_PATH_AVX512_VNNI : KB_INT8_PATH_SCALAR
                #expect(kb_int8_active_path() == expected, "KIBAN_KERNELS=\(path.rawValue)")
            }
        }

        /// With KIBAN_KERNELS=scalar the dispatchers give exactly what the scalar functions give.
        @Test func forcedScalarDispatchersRunTheScalarPath() {
            defer { restoreDefaultPath() }
            force(.scalar)
            #expect(kb_int8_active_path() == KB_INT8_PATH_SCALAR)
            let problem = Int8Problem(m: 9, n: 40, k: 70)
            #expect(problem.accumulate(kb_int8_gemm_s32) == problem.accumulate(kb_int8_gemm_s32_scalar))
            #expect(firstBitDifference(problem.gemm(kb_int8_gemm, withBias: true), problem.gemm(kb_int8_gemm_scalar, withBias: true)) == nil)
        }
    }

    #if arch(x86_64)
    /// The AVX-512 VNNI GEMM and the AVX-512 quantiser against the scalar path, bit for bit.
    @Suite(
        "int8 AVX-512 VNNI path",
        .enabled(if: kb_int8_path_supported(KB_INT8_PATH_AVX512_VNNI) != 0, "this CPU (or OS) has no AVX-512 VNNI"))
    struct Int8VNNI {
        @Test(arguments: int8Shapes.map { [$0.m, $0.n, $0.k] })
        func gemmEqualsScalar(shape: [Int]) {
            let problem = Int8Problem(m: shape[0], n: shape[1], k: shape[2], seed: 11)
            let scalar = problem.accumulate(kb_int8_gemm_s32_scalar)
            let vnni = problem.accumulate(kb_int8_gemm_s32_avx512_vnni)
            let mismatch = zip(scalar, vnni).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(mismatch == nil, "shape \(shape): acc[\(mismatch?.offset ?? -1)] \(mismatch.map { "\($0.element.0) vs \($0.element.1)" } ?? "")")
            for withBias in [false, true] {
                let difference = firstBitDifference(
                    problem.gemm(kb_int8_gemm_avx512_vnni, withBias: withBias), problem.gemm(kb_int8_gemm_scalar, withBias: withBias))
                #expect(difference == nil, "shape \(shape), bias \(withBias): first difference at \(difference ?? -1)")
            }
        }

        /// ±127 everywhere at k = 131072: the shifted VNNI sums wrap modulo 2^32 and the correction restores them.
        @Test func longestKIsExact() {
            let problem = Int8Problem(m: 7, n: 18, k: 131_072, extremes: true)
            #expect(problem.accumulate(kb_int8_gemm_s32_avx512_vnni) == problem.accumulate(kb_int8_gemm_s32_scalar))
        }

        @Test func dispatcherRunsVNNIOnTheAVX512Path() {
            defer { restoreDefaultPath() }
            force(.avx512)
            #expect(kb_int8_active_path() == KB_INT8_PATH_AVX512_VNNI)
            let problem = Int8Problem(m: 31, n: 70, k: 90, seed: 2)
            #expect(problem.accumulate(kb_int8_gemm_s32) == problem.accumulate(kb_int8_gemm_s32_avx512_vnni))
        }

        @Test(arguments: [1, 15, 16, 17, 1000])
        func quantizationEqualsScalar(n: Int) {
            var rng = SplitMix64(state: UInt64(n))
            for row in quantizationRows(n: n, rng: &rng) {
                let scalar = quantizeRow(row, kb_quantize_rows_int8_scalar), vector = quantizeRow(row, kb_quantize_rows_int8_avx512)
                let sameScale = scalar.scale.bitPattern == vector.scale.bitPattern || (scalar.scale.isNaN && vector.scale.isNaN)
                #expect(scalar.q == vector.q && sameScale, "n = \(n): \(scalar) vs \(vector)")
            }
        }
    }
    #endif
}
