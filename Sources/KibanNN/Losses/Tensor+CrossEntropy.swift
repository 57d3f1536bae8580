import KibanKernels
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
        let weights = classWeights?.toArray().map(Double.init)
        let weightSum = weights?.reduce(0, +) ?? Double(classes)
        let smoothing = Double(labelSmoothing)
        let logProbabilities = withNoGrad { logSoftmax(axis: -1) }   // (N, C), contiguous
        let logP = UnsafePointer(logProbabilities.pointer)
        // Per-row terms in parallel, then one sum in row order: the loss does not depend on the split.
        var rowLoss = [Double](repeating: 0, count: rows), rowWeight = [Double](repeating: 0, count: rows)
        targets.values.withUnsafeBufferPointer { labels in
            rowLoss.withUnsafeMutableBufferPointer { loss in
                rowWeight.withUnsafeMutableBufferPointer { weight in
                    Self.forRows(rows, classes: classes) { range in
                        Self.withWeights(weights) { w in
                            kb_cross_entropy_rows(
                                logP + range.lowerBound * classes, labels.baseAddress! + range.lowerBound, range.count, classes, w,
                                smoothing, ignoreIndex, loss.baseAddress! + range.lowerBound, weight.baseAddress! + range.lowerBound)
                        }
                    }
                }
            }
        }
        let total = rowLoss.reduce(0, +), denominator = rowWeight.reduce(0, +)
        let loss = Tensor(denominator == 0 ? 0 : Float(total / denominator))
        return Tensor.record("cross_entropy", inputs: [self], output: loss) { gradient in
            let scale = denominator == 0 ? 0 : Double(gradient.item()) / denominator
            let dx = Tensor.empty([rows, classes])
            withExtendedLifetime(logProbabilities) {
                targets.values.withUnsafeBufferPointer { labels in
                    Self.forRows(rows, classes: classes) { range in
                        Self.withWeights(weights) { w in
                            kb_cross_entropy_backward_rows(
                                logP + range.lowerBound * classes, labels.baseAddress! + range.lowerBound, range.count, classes, w,
                                weightSum, smoothing, ignoreIndex, scale, dx.pointer + range.lowerBound * classes)
                        }
                    }
                }
            }
            return [dx]
        }
    }

    /// Runs `body` on ranges of rows split over threads.
    private static func forRows(_ rows: Int, classes: Int, _ body: (Range<Int>) -> Void) {
        Threading.parallelFor(rows, minimumPerTask: Swift.max(1, 32_768 / Swift.max(classes, 1)), body)
    }

    /// Calls `body` with a pointer to the class weights, or nil for none.
    private static func withWeights(_ weights: [Double]?, _ body: (UnsafePointer<Double>?) -> Void) {
        guard let weights else { return body(nil) }
        weights.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
