import KibanKernels

/// Softmax and log-softmax as single tape nodes over C row kernels (x: (…, C), rows split over threads).
extension Tensor {
    /// Softmax along `axis`. A row that is entirely −∞ (fully masked) gives zeros.
    public func softmax(axis: Int = -1) -> Tensor {
        rowwise(axis: axis, op: "softmax", forward: kb_softmax_rows, backward: kb_softmax_rows_backward)
    }

    /// log(softmax(x)) along `axis`, computed without forming the softmax.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        rowwise(axis: axis, op: "log_softmax", forward: kb_log_softmax_rows, backward: kb_log_softmax_rows_backward)
    }

    /// Runs a row kernel over the last axis, moving `axis` there first if needed.
    private func rowwise(
        axis: Int, op: String,
        forward: @escaping (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int) -> Void,
        backward: @escaping (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int) -> Void
    ) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: op, shape: shape)
        if axis != rank - 1 {
            return transposed(axis, -1).rowwise(axis: -1, op: op, forward: forward, backward: backward).transposed(axis, -1)
        }
        let input = contiguous()
        let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
        let output = Tensor.empty(shape)
        let (x, y) = (UnsafePointer(input.pointer), output.pointer)
        Threading.parallelRows(rows, rowLength: n) { range in
            forward(x + range.lowerBound * n, y + range.lowerBound * n, range.count, n)
        }
        return Tensor.record(op, inputs: [input], output: output) { [y = output.detached()] gradient in
            let dy = gradient.contiguousWithoutTape()
            let dx = Tensor.empty(y.shape)
            withExtendedLifetime(dy) {
                let (yp, dyp, dxp) = (UnsafePointer(y.pointer), UnsafePointer(dy.pointer), dx.pointer)
                Threading.parallelRows(rows, rowLength: n) { range in
                    let start = range.lowerBound * n
                    backward(yp + start, dyp + start, dxp + start, range.count, n)
                }
            }
            return [dx]
        }
    }
}

extension Threading {
    /// Splits `rows` rows of `rowLength` elements over threads, at least ~16K elements per task.
    static func parallelRows(_ rows: Int, rowLength: Int, _ body: (Range<Int>) -> Void) {
        parallelFor(rows, minimumPerTask: Swift.max(1, 16_384 / Swift.max(rowLength, 1)), body)
    }
}
