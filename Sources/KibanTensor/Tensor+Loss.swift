import Foundation
import KibanKernels

extension Tensor {
    /// Mean cross-entropy of `logits` (N, C) against class `targets` (N), one fused tape node
    /// (log-softmax and the negative log-likelihood together). Targets equal to `ignoreIndex` add
    /// nothing and are left out of the mean; if every target is ignored the loss is 0.
    public func crossEntropy(targets: IndexTensor, ignoreIndex: Int = -100) -> Tensor {
        tensorCheck(
            rank == 2 && targets.shape == [shape[0]], "cross_entropy",
            "logits of shape \(describeShape(shape)) and targets of shape \(describeShape(targets.shape)); "
                + "expected (N, C) and (N,)")
        let rows = shape[0], classes = shape[1]
        for (row, target) in targets.values.enumerated() where target != ignoreIndex && (target < 0 || target >= classes) {
            tensorFailure("cross_entropy", "target \(target) in row \(row) is out of range for \(classes) classes")
        }
        let input = contiguousWithoutTape()
        let logProbabilities = Tensor.empty(shape)
        withExtendedLifetime(input) {
            let (x, y) = (UnsafePointer(input.pointer), logProbabilities.pointer)
            Threading.parallelRows(rows, rowLength: classes) { range in
                kb_log_softmax_rows(x + range.lowerBound * classes, y + range.lowerBound * classes, range.count, classes)
            }
        }
        let counted = targets.values.filter { $0 != ignoreIndex }.count
        var total = 0.0
        for (row, target) in targets.values.enumerated() where target != ignoreIndex {
            total -= Double(logProbabilities.pointer[row * classes + target])
        }
        let loss = Tensor(counted == 0 ? 0 : Float(total / Double(counted)))
        return Tensor.record("cross_entropy", inputs: [self], output: loss) { gradient in
            let scale = counted == 0 ? 0 : gradient.item() / Float(counted)
            let dx = Tensor.empty([rows, classes])
            for row in 0..<rows {
                let target = targets.values[row]
                let source = logProbabilities.pointer + row * classes, out = dx.pointer + row * classes
                guard target != ignoreIndex else {
                    out.update(repeating: 0, count: classes)
                    continue
                }
                for c in 0..<classes { out[c] = scale * Foundation.exp(source[c]) }
                out[target] -= scale
            }
            return [dx]
        }
    }
}
