/// Matrix products through `gemm` (Kiban's kernel, or OpenBLAS). Transposed views are passed as transposed
/// operands, not copied; views a GEMM cannot address (no unit stride in the last two axes, or a
/// broadcast row stride of 0) are copied first. Gradients are computed only for inputs that need them.
extension Tensor {
    /// Matrix product over the last two axes: (…, M, K) @ (…, K, N) → (…, M, N), with the leading
    /// (batch) axes broadcast. A rank > 2 left operand times a matrix runs as one GEMM.
    public func matmul(_ other: Tensor) -> Tensor {
        tensorCheck(
            rank >= 2 && other.rank >= 2, "matmul",
            "needs operands of rank ≥ 2, got \(describeShape(shape)) and \(describeShape(other.shape))")
        tensorCheck(
            shape[rank - 1] == other.shape[other.rank - 2], "matmul",
            "inner dimensions differ: \(describeShape(shape)) @ \(describeShape(other.shape))")
        if rank > 2 && other.rank == 2 && isContiguous {
            let k = shape[rank - 1]
            let flat = reshaped([shape.dropLast().reduce(1, *), k]).matmul(other)
            return flat.reshaped(Array(shape.dropLast()) + [other.shape[1]])
        }
        let batchShape = Shape.broadcast(Array(shape.dropLast(2)), Array(other.shape.dropLast(2)), op: "matmul")
        let output = Tensor.batchedProduct(self, other, batchShape: batchShape)
        let (needsA, needsB) = (requiresGrad, other.requiresGrad)
        return Tensor.record("matmul", inputs: [self, other], output: output) {
            [a = detached(), b = other.detached()] gradient in
            let gradA = needsA ? Tensor.batchedProduct(gradient, b.transposed(), batchShape: batchShape) : nil
            let gradB = needsB ? Tensor.batchedProduct(a.transposed(), gradient, batchShape: batchShape) : nil
            return [gradA?.summed(toShape: a.shape), gradB?.summed(toShape: b.shape)]
        }
    }

    /// C = A @ B for each batch index, without recording. Result: batchShape + (M, N), contiguous.
    static func batchedProduct(_ a: Tensor, _ b: Tensor, batchShape: [Int]) -> Tensor {
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        let output = Tensor.empty(batchShape + [m, n])
        let batches = Shape.count(batchShape)
        guard output.count > 0 else { return output }
        if k == 0 {
            output.fill(0)
            return output
        }
        let left = a.gemmOperand(), right = b.gemmOperand()
        let aBatch = Shape.broadcastStrides(
            shape: Array(left.tensor.shape.dropLast(2)), strides: Array(left.tensor.strides.dropLast(2)), to: batchShape)
        let bBatch = Shape.broadcastStrides(
            shape: Array(right.tensor.shape.dropLast(2)), strides: Array(right.tensor.strides.dropLast(2)), to: batchShape)
        var index = [Int](repeating: 0, count: batchShape.count)
        for batch in 0..<batches {
            var aOffset = left.tensor.offset, bOffset = right.tensor.offset
            for axis in 0..<batchShape.count {
                aOffset += index[axis] * aBatch[axis]
                bOffset += index[axis] * bBatch[axis]
            }
            gemm(
                left.transpose, right.transpose, m, n, k, 1, (left.tensor.storage.pointer + aOffset, left.leading),
                (right.tensor.storage.pointer + bOffset, right.leading), 0, output.pointer + batch * m * n, n)
            var axis = batchShape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < batchShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return output
    }

    /// How a GEMM should read the last two axes: row-major as is, as a transpose, or (when neither
    /// axis has unit stride) from a contiguous copy.
    private func gemmOperand() -> (tensor: Tensor, transpose: GEMMTranspose, leading: Int) {
        let rows = shape[rank - 2], columns = shape[rank - 1]
        let rowStride = strides[rank - 2], columnStride = strides[rank - 1]
        if columnStride == 1 || columns == 1 {
            let leading = rows == 1 ? Swift.max(columns, 1) : rowStride
            if leading >= Swift.max(columns, 1) { return (self, .noTranspose, leading) }
        }
        if rowStride == 1 || rows == 1 {
            let leading = columns == 1 ? Swift.max(rows, 1) : columnStride
            if leading >= Swift.max(rows, 1) { return (self, .transpose, leading) }
        }
        return (copied(), .noTranspose, Swift.max(columns, 1))
    }
}
