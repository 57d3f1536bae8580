import CBLAS
import Foundation
import KibanFormats
import KibanTensor
import Testing

@Suite("Tensor basics")
struct TensorBasicsTests {
    @Test func viewsShareStorageAndIndexCorrectly() {
        let x = Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])
        let t = x.transposed()
        #expect(t.shape == [3, 2] && !t.isContiguous && t.storage === x.storage)
        #expect(t.toArray() == [0, 3, 1, 4, 2, 5])
        #expect(x.sliced(axis: 1, 0..<3, step: 2).toArray() == [0, 2, 3, 5])
        #expect(x.reshaped([3, -1]).shape == [3, 2])
        #expect(t.reshaped([6]).toArray() == [0, 3, 1, 4, 2, 5])
        #expect(Tensor(shape: [3, 1], values: [1, 2, 3]).expanded(to: [2, 3, 2]).toArray() == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        #expect(x.permuted([1, 0]).unsqueezed(0).shape == [1, 3, 2])
    }

    @Test func broadcastingArithmeticAndReductions() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let row = Tensor(shape: [3], values: [10, 20, 30])
        #expect((a + row).toArray() == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor(shape: [2, 1], values: [1, -1])).toArray() == [1, 2, 3, -4, -5, -6])
        #expect(a.summed(axes: [0]).toArray() == [5, 7, 9])
        #expect(a.summed(axes: [1], keepingDimensions: true).shape == [2, 1])
        #expect(a.mean().item() == 3.5)
        #expect(a.max(axis: 1).toArray() == [3, 6])
        #expect(a.transposed().summed(axes: [1]).toArray() == [5, 7, 9])
    }

    @Test func matmulMatchesNaiveProductForEveryLayout() {
        let generator = RandomGenerator(seed: 5)
        let a = Tensor.randn([4, 6], generator: generator), b = Tensor.randn([6, 3], generator: generator)
        func naive(_ x: Tensor, _ y: Tensor) -> [Float] {
            var out = [Float](repeating: 0, count: x.shape[0] * y.shape[1])
            for i in 0..<x.shape[0] { for j in 0..<y.shape[1] { for k in 0..<x.shape[1] { out[i * y.shape[1] + j] += x[i, k] * y[k, j] } } }
            return out
        }
        let expected = naive(a, b)
        let viaTransposes = a.transposed().copied().transposed().matmul(b.transposed().copied().transposed())
        for (lhs, rhs) in [(a.matmul(b).toArray(), expected), (viaTransposes.toArray(), expected)] {
            #expect(zip(lhs, rhs).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        let strided = Tensor.randn([4, 12], generator: generator).sliced(axis: 1, 0..<12, step: 2)
        #expect(zip(strided.matmul(b).toArray(), naive(strided, b)).allSatisfy { abs($0 - $1) < 1e-5 })
        let row = a.sliced(axis: 0, 2..<3), column = b.sliced(axis: 1, 1..<2)
        #expect(zip(row.matmul(b).toArray(), naive(row, b)).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(a.matmul(column).toArray(), naive(a, column)).allSatisfy { abs($0 - $1) < 1e-5 })
        let broadcastBatch = a.expanded(to: [3, 4, 6]).matmul(Tensor.randn([3, 6, 2], generator: generator))
        #expect(broadcastBatch.shape == [3, 4, 2])
        let stacked = Tensor.randn([3, 6, 2], generator: generator)
        let viaBroadcast = a.expanded(to: [3, 4, 6]).matmul(stacked), viaMatrix = a.matmul(stacked)
        #expect(viaBroadcast.toArray() == viaMatrix.toArray())
        #expect(Tensor.zeros([2, 3, 0]).matmul(Tensor.zeros([0, 4])).toArray() == [Float](repeating: 0, count: 24))
    }

    @Test func concatSplitWhereAndGather() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2, 1], values: [9, 8])
        let joined = Tensor.concatenate([a, b], axis: 1)
        #expect(joined.toArray() == [1, 2, 9, 3, 4, 8])
        let parts = joined.split(sizes: [2, 1], axis: 1)
        #expect(parts[0].toArray() == a.toArray() && parts[1].toArray() == b.toArray())
        #expect(a.maskedFill(Tensor(shape: [2], values: [0, 1]), value: -1).toArray() == [1, -1, 3, -1])
        #expect(a.gather(axis: 1, index: IndexTensor(shape: [2, 1], values: [1, 0])).toArray() == [2, 3])
        #expect(a.indexSelect(axis: 0, indices: IndexTensor([1, 1, 0])).toArray() == [3, 4, 3, 4, 1, 2])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        (x * x).sum().backward()
        (x * 2).sum().backward()
        #expect(x.grad?.toArray() == [4, 6, 8])
    }

    @Test func noGradAndDetachRecordNothing() {
        let x = Tensor.ones([2], requiresGrad: true)
        let inside = withNoGrad { x * 3 }
        #expect(!inside.requiresGrad && inside.isLeaf)
        let detached = (x * 2).detached()
        #expect(!detached.requiresGrad)
        #expect((x * 2).requiresGrad)
    }

    @Test func dropoutIsSeededAndScales() {
        let x = Tensor.ones([1000])
        let first = x.dropout(probability: 0.25, generator: RandomGenerator(seed: 9)).toArray()
        let second = x.dropout(probability: 0.25, generator: RandomGenerator(seed: 9)).toArray()
        #expect(first == second)
        #expect(Set(first).isSubset(of: [0, Float(1) / 0.75]))
        let dropped = first.filter { $0 == 0 }.count
        #expect(dropped > 180 && dropped < 320)
        #expect(x.dropout(probability: 0.25, generator: RandomGenerator(seed: 9), training: false) === x)
    }

    @Test func fullyMaskedSoftmaxRowGivesZeros() {
        let logits = Tensor(shape: [2, 3], values: [0, -.infinity, 1, -.infinity, -.infinity, -.infinity])
        let probabilities = logits.softmax().toArray()
        #expect(probabilities[1] == 0 && abs(probabilities[0] + probabilities[2] - 1) < 1e-6)
        #expect(Array(probabilities[3...]) == [0, 0, 0])
    }

    @Test func threadCountDoesNotChangeResults() {
        let generator = RandomGenerator(seed: 2)
        let x = Tensor.randn([512, 300], generator: generator)
        let weight = Tensor.randn([300], generator: generator), bias = Tensor.randn([300], generator: generator)
        let upstream = Tensor.randn([512, 300], generator: generator)
        func run(threads: Int) -> [Float] {
            Threading.withThreadCount(threads) {
                let (w, b) = (weight.copied(), bias.copied())
                w.requiresGrad = true
                b.requiresGrad = true
                x.layerNorm(weight: w, bias: b).backward(gradient: upstream)
                return x.softmax().toArray() + x.gelu().toArray() + w.grad!.toArray() + b.grad!.toArray()
            }
        }
        let reference = run(threads: 1)
        for threads in [2, 3] {
            let differing = zip(reference, run(threads: threads)).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(differing) of \(reference.count) values differ at \(threads) threads")
        }
    }

    /// `run.threads` sets this process-wide count; OpenBLAS must follow it, not only Kiban's kernels.
    @Test func threadCountLimitsOpenBLASToo() {
        let before = Threading.threadCount
        defer { Threading.threadCount = before }
        for threads in [1, 2] {
            Threading.threadCount = threads
            #expect(openblas_get_num_threads() == Int32(threads))
        }
    }

    @Test func safetensorsRoundTripIsBitExact() throws {
        let generator = RandomGenerator(seed: 4)
        let weights = Tensor.randn([3, 5], generator: generator)
        let labels = IndexTensor(shape: [2, 2], values: [0, -7, 1 << 40, 3])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsFile.write(["w": .float32(weights), "labels": .int64(labels)], metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.tensor("w").toArray().map(\.bitPattern) == weights.toArray().map(\.bitPattern))
        #expect(try file.indices("labels") == labels)
        #expect(file.metadata == ["format": "pt"])
        #expect(throws: SafeTensorsError.missingTensor(path: url.path, tensor: "nope")) { try file.tensor("nope") }
    }

    @Test func truncatedSafetensorsIsAnErrorNamingTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensorsFile.write(["w": .float32(Tensor.ones([64]))], to: url)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 10).write(to: url)
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error?.description.contains(url.path) == true)
    }
}
