import Foundation
import KibanTensor

extension Tensor {
    /// Mean cross-entropy of `logits` (N, C) against class `targets` (N), one fused tape node
    /// (log-softmax and the negative log-likelihood together), as PyTorch's `F.cross_entropy`:
    ///
    /// - `ignoreIndex`: rows with this target add nothing and leave the mean's denominator.
    /// - `classWeights` (C): row i counts w[yᵢ] times; the mean divides by Σ w[yᵢ]. A constant.
    /// - `labelSmoothing` ε: the target distribution is (1 − ε)·one-hot + ε/C, i.e.
    ///   loss = ((1 − ε)·Σ w[yᵢ]·(−log pᵢ,yᵢ) + ε/C·Σᵢ Σ_c w[c]·(−log pᵢ,c)) / Σ w[yᵢ].
    ///
    /// If every row is ignored the loss is 0.
    public func crossEntropy(
        targets: IndexTensor, ignoreIndex: Int = -100, labelSmoothing: Float = 0, classWeights: Tensor? = nil
    ) -> Tensor {
        tensorCheck(
            rank == 2 && targets.shape == [shape[0]], "cross_entropy",
            "logits of shape \(describeShape(shape)) and targets of shape \(describeShape(targets.shape)); "
                + "expected (N, C) and (N,)")
        let rows = shape[0], classes = shape[1]
        for (row, target) in targets.values.enumerated() where target != ignoreIndex && (target < 0 || target >= classes) {
            tensorFailure("cross_entropy", "target \(target) in row \(row) is out of range for \(classes) classes")
        }
        tensorCheck(
            labelSmoothing >= 0 && labelSmoothing <= 1, "cross_entropy", "label smoothing \(labelSmoothing) is not in [0, 1]")
        tensorCheck(
            classWeights == nil || classWeights!.shape == [classes], "cross_entropy",
            "class weights of shape \(describeShape(classWeights?.shape ?? [])) for \(classes) classes")
        let weights = classWeights?.toArray().map(Double.init) ?? [Double](repeating: 1, count: classes)
        let logProbabilities = withNoGrad { logSoftmax(axis: -1) }   // (N, C), contiguous
        let smoothing = Double(labelSmoothing), weightSum = weights.reduce(0, +)
        var total = 0.0, denominator = 0.0
        for (row, target) in targets.values.enumerated() where target != ignoreIndex {
            let logP = logProbabilities.pointer + row * classes
            var smoothed = 0.0
            for c in 0..<classes { smoothed -= weights[c] * Double(logP[c]) }
            total += (1 - smoothing) * weights[target] * -Double(logP[target]) + smoothing / Double(classes) * smoothed
            denominator += weights[target]
        }
        let loss = Tensor(denominator == 0 ? 0 : Float(total / denominator))
        return Tensor.record("cross_entropy", inputs: [self], output: loss) { gradient in
            let scale = denominator == 0 ? 0 : Double(gradient.item()) / denominator
            let dx = Tensor.empty([rows, classes])
            for row in 0..<rows {
                let target = targets.values[row]
                let logP = logProbabilities.pointer + row * classes, out = dx.pointer + row * classes
                guard target != ignoreIndex else {
                    out.update(repeating: 0, count: classes)
                    continue
                }
                // (1 − ε)·w[y]·(p − e_y) + ε/C·(Σw·p − w), times upstream / Σ w[yᵢ].
                let hard = (1 - smoothing) * weights[target], soft = smoothing / Double(classes)
                for c in 0..<classes {
                    let p = Foundation.exp(Double(logP[c]))
                    out[c] = Float(scale * (hard * p + soft * (weightSum * p - weights[c])))
                }
                out[target] -= Float(scale * hard)
            }
            return [dx]
        }
    }
}
