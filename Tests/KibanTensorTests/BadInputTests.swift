import KibanNN
import KibanTensor
import Testing

/// Shape mismatches, out-of-range indices and invalid axes stop the process with a message that
/// names the op and the shapes (never a memory fault). Each case runs in a child process.
@Suite("Bad input stops with a clear message")
struct BadInputTests {
    /// Expects the child process to fail and its standard error to contain every fragment.
    func expectStop(_ fragments: [String], _ result: ExitTest.Result?) {
        guard let result else { return }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        for fragment in fragments {
            #expect(message.contains(fragment), "missing '\(fragment)' in: \(message)")
        }
    }

    @Test func matmulInnerDimensionMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
        }
        expectStop(["kiban: matmul", "(2, 3)", "(4, 5)"], result)
    }

    @Test func broadcastMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        expectStop(["kiban: add", "(2, 3)", "(4,)", "cannot be broadcast"], result)
    }

    @Test func indexOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([5, 3]).indexSelect(axis: 0, indices: IndexTensor([1, 5]))
        }
        expectStop(["kiban: index_select", "index 5", "(5, 3)"], result)
    }

    @Test func negativeIndex() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([4, 3]).gather(axis: 1, index: IndexTensor(shape: [4, 1], values: [0, -1, 0, 0]))
        }
        expectStop(["kiban: gather", "index -1", "(4, 3)"], result)
    }

    @Test func crossEntropyTargetOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).crossEntropy(targets: IndexTensor([0, 3]))
        }
        expectStop(["kiban: cross_entropy", "target 3", "3 classes"], result)
    }

    @Test func invalidAxis() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).softmax(axis: 2)
        }
        expectStop(["kiban: softmax", "axis 2", "(2, 3)"], result)
    }

    @Test func invalidReshape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshaped([4, -1])
        }
        expectStop(["kiban: reshape", "(2, 3)", "(4, -1)"], result)
    }

    @Test func sliceOutOfBounds() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).sliced(axis: 1, 1..<5)
        }
        expectStop(["kiban: slice", "(2, 3)"], result)
    }

    @Test func layerNormWeightShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 4]).layerNorm(weight: Tensor.ones([3]), bias: nil)
        }
        expectStop(["kiban: layer_norm", "(3,)", "(2, 4)"], result)
    }

    @Test func backwardTwiceThroughFreedGraph() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.ones([2, 2], requiresGrad: true)
            let loss = (x * x).sum()
            loss.backward()
            loss.backward()
        }
        expectStop(["kiban: sum", "second time"], result)
    }
}
