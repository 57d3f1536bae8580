import Foundation
import KibanTensor
import Testing

/// The elementwise, dropout and sum loops run in C over thread splits: each result must equal a plain
/// per-element computation and must not change with the number of threads.
@Suite("Parallel elementwise, dropout and sums", .serialized)
struct ParallelKernelTests {
    /// a (300, 500), large enough to be split over two threads; b of its shape, a transposed view;
    /// a row (500) to broadcast.
    static func operands() -> (a: Tensor, b: Tensor, row: Tensor) {
        let generator = RandomGenerator(seed: 41)
        let a = Tensor.randn([300, 500], generator: generator)
        return (a, Tensor.randn([500, 300], generator: generator).transposed(), Tensor.randn([500], generator: generator))
    }

    /// Runs `body` at 1 and 2 threads and checks both give the same values; returns them.
    static func atOneAndTwoThreads(_ label: String, _ body: () -> Tensor) -> [Float] {
        let one = Threading.withThreadCount(1) { body().toArray() }
        let two = Threading.withThreadCount(2) { body().toArray() }
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern), "\(label): 1 and 2 threads differ")
        return two
    }

    @Test func binaryOpsEqualElementwiseArithmetic() {
        let (a, b, row) = Self.operands()
        let (x, y, r) = (a.toArray(), b.contiguous().toArray(), row.toArray())
        let cases: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] = [
            ("add", { $0 + $1 }, { $0 + $1 }), ("sub", { $0 - $1 }, { $0 - $1 }),
            ("mul", { $0 * $1 }, { $0 * $1 }), ("div", { $0 / $1 }, { $0 / $1 }),
        ]
        for (name, op, scalar) in cases {
            let transposed = Self.atOneAndTwoThreads("\(name) with a transposed operand") { op(a, b) }
            #expect(transposed == zip(x, y).map(scalar), "\(name) with a transposed operand")
            let broadcast = Self.atOneAndTwoThreads("\(name) with a broadcast row") { op(a, row) }
            #expect(broadcast == x.indices.map { scalar(x[$0], r[$0 % 500]) }, "\(name) with a broadcast row")
            let leading = Self.atOneAndTwoThreads("\(name) with a broadcast left operand") { op(row, a) }
            #expect(leading == x.indices.map { scalar(r[$0 % 500], x[$0]) }, "\(name) with a broadcast left operand")
        }
    }

    @Test func unaryOpsEqualLibm() {
        let (a, b, _) = Self.operands()
        let x = a.toArray()
        let positive = a.abs() + 0.5
        let p = positive.toArray()
        let cases: [(String, () -> Tensor, [Float])] = [
            ("neg", { -a }, x.map { -$0 }),
            ("scalar add", { a + 1.5 }, x.map { $0 + 1.5 }),
            ("scalar mul", { a * 0.25 }, x.map { $0 * 0.25 }),
            ("exp", { a.exp() }, x.map { Foundation.exp($0) }),
            ("log", { positive.log() }, p.map { Foundation.log($0) }),
            ("sqrt", { positive.sqrt() }, p.map { $0.squareRoot() }),
            ("tanh", { a.tanh() }, x.map { Foundation.tanh($0) }),
            ("sigmoid", { a.sigmoid() }, x.map { 1 / (1 + Foundation.exp(-$0)) }),
            ("relu", { a.relu() }, x.map { max($0, 0) }),
            ("pow 1.5", { positive.pow(1.5) }, p.map { Foundation.pow($0, 1.5) }),
            ("transposed exp", { b.exp() }, b.contiguous().toArray().map { Foundation.exp($0) }),
        ]
        for (name, op, expected) in cases {
            #expect(Self.atOneAndTwoThreads(name, op) == expected, "\(name)")
        }
    }

    @Test func dropoutKeepsAboutOneMinusPAndRemakesItsMaskInBackward() {
        let x = Tensor.randn([400, 400], generator: RandomGenerator(seed: 3), requiresGrad: true)
        let outputs = Self.atOneAndTwoThreads("dropout") { x.dropout(probability: 0.3, generator: RandomGenerator(seed: 9)) }
        let input = x.toArray()
        let scale: Float = 1 / 0.7
        let kept: [Int] = outputs.indices.filter { outputs[$0] != 0 }
        let share = Double(kept.count) / Double(outputs.count)
        #expect(abs(share - 0.7) < 0.01, "kept \(kept.count) of \(outputs.count)")
        let scaled = kept.allSatisfy { (index: Int) -> Bool in outputs[index] == input[index] * scale }
        #expect(scaled, "kept values are scaled by 1/(1 − p)")
        let y = x.dropout(probability: 0.3, generator: RandomGenerator(seed: 9))
        y.sum().backward()
        let gradient = x.grad?.toArray() ?? []
        let masked = gradient.indices.allSatisfy { (index: Int) -> Bool in gradient[index] == (outputs[index] == 0 ? 0 : scale) }
        #expect(masked, "the backward uses the forward's mask")
        let other = x.dropout(probability: 0.3, generator: RandomGenerator(seed: 10)).toArray()
        #expect(other != outputs, "another seed gives another mask")
    }

    /// Sums over adjacent axes run in C, others by the strided engine; all equal a Double sum.
    @Test(arguments: [[0], [1], [2], [0, 1], [1, 2], [0, 2], [0, 1, 2]])
    func sumsEqualDoubleSums(_ axes: [Int]) {
        let shape = [7, 300, 50]
        let x = Tensor.randn(shape, generator: RandomGenerator(seed: 12))
        let values = x.toArray()
        var kept = shape
        for axis in axes { kept[axis] = 1 }
        var expected = [Double](repeating: 0, count: kept.reduce(1, *))
        for i in 0..<shape[0] {
            for j in 0..<shape[1] {
                for k in 0..<shape[2] {
                    let (o0, o1, o2) = (kept[0] == 1 ? 0 : i, kept[1] == 1 ? 0 : j, kept[2] == 1 ? 0 : k)
                    expected[(o0 * kept[1] + o1) * kept[2] + o2] += Double(values[(i * shape[1] + j) * shape[2] + k])
                }
            }
        }
        let sums = Self.atOneAndTwoThreads("sum over \(axes)") { x.summed(axes: axes) }
        #expect(sums == expected.map(Float.init), "sum over \(axes)")
    }
}
