import Foundation
import KibanTensor
import Testing

/// Products large enough to be split over threads: by row tiles when op(B) is the smaller operand (n ≤ m), by
/// column panels otherwise. Whatever the backend, the result must match a Double product; with Kiban's own
/// GEMM it must also be identical at 1 and 2 threads and row by row identical to the rows computed alone.
@Suite("GEMM through the tensor API", .serialized)
struct GEMMTests {
    /// (m, k, n): a row split, a column split, a linear layer with k above one summation block.
    static let shapes: [[Int]] = [[700, 50, 300], [300, 50, 700], [257, 1000, 129]]

    static func exactProduct(_ a: Tensor, _ b: Tensor) -> [Double] {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let x = a.toArray(), y = b.toArray()
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let left = Double(x[i * k + p])
                for j in 0..<n { out[i * n + j] += left * Double(y[p * n + j]) }
            }
        }
        return out
    }

    @Test(arguments: shapes)
    func splitProductsMatchDoubleAndEachOther(_ shape: [Int]) {
        let (m, k, n) = (shape[0], shape[1], shape[2])
        let generator = RandomGenerator(seed: 21)
        let a = Tensor.randn([m, k], generator: generator), b = Tensor.randn([k, n], generator: generator)
        let twoThreads = Threading.withThreadCount(2) { a.matmul(b).toArray() }
        let exact = Self.exactProduct(a, b)
        let worst = zip(twoThreads, exact).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 2e-5 * Double(k).squareRoot(), "\(shape): worst |Δ| \(worst) against Double")
        if GEMMBackend.active.rowsAreBatchInvariant {
            let oneThread = Threading.withThreadCount(1) { a.matmul(b).toArray() }
            #expect(oneThread == twoThreads, "\(shape): 1 and 2 threads differ")
            let rows = 5..<(m / 3)
            let alone = a.sliced(axis: 0, rows).matmul(b).toArray()
            #expect(alone == Array(twoThreads[(rows.lowerBound * n)..<(rows.upperBound * n)]), "\(shape): rows computed alone differ")
        }
    }

    /// The residual add and GELU done in the GEMM's epilogue equal the separate operations bit for bit,
    /// forward and backward, on row and column splits over threads, with k above one summation block,
    /// in every precision this CPU runs.
    @Test(arguments: [[700, 50, 300], [60, 400, 1000], [257, 1000, 129]], [GELUApproximation.none, .tanh])
    func fusedEpiloguesEqualSeparateOperations(_ shape: [Int], _ approximation: GELUApproximation) {
        let (rows, inputs, outputs) = (shape[0], shape[1], shape[2])
        let generator = RandomGenerator(seed: 5)
        let x = Tensor.randn([rows, inputs], generator: generator)
        let weight = Tensor.randn([outputs, inputs], scale: 0.1, generator: generator)
        let bias = Tensor.randn([outputs], generator: generator)
        let residual = Tensor.randn([rows, outputs], generator: generator)
        let upstream = Tensor.randn([rows, outputs], generator: generator)
        /// The output and the gradients of x, weight, bias and residual of `layer`.
        func run(_ layer: (Tensor, Tensor, Tensor, Tensor) -> Tensor) -> [[Float]] {
            let leaves = [x, weight, bias, residual].map { Tensor(shape: $0.shape, values: $0.toArray(), requiresGrad: true) }
            let output = layer(leaves[0], leaves[1], leaves[2], leaves[3])
            (output * upstream).sum().backward()
            return [output.toArray()] + leaves.map { $0.grad?.toArray() ?? [] }
        }
        for precision in GEMMPrecision.allCases where precision.isSupported {
            GEMMPrecision.with(precision) {
                let added = run { Tensor.linear($0, weight: $1, bias: $2, residual: $3) }
                let addedSeparately = run { Tensor.linear($0, weight: $1, bias: $2) + $3 }
                #expect(added == addedSeparately, "\(shape) \(precision): residual epilogue")
                let activated = run { x, w, b, r in Tensor.linearGELU(x, weight: w, bias: b, approximation: approximation) + r }
                let activatedSeparately = run { x, w, b, r in
                    Tensor.linear(x, weight: w, bias: b).gelu(approximation: approximation) + r
                }
                #expect(activated == activatedSeparately, "\(shape) \(precision): GELU epilogue")
            }
        }
    }
}
