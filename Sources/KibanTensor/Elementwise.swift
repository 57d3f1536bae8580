import KibanKernels

/// The strided iteration engine behind every elementwise operation.
///
/// Outputs are freshly allocated and contiguous; inputs may be any view (transposed, sliced,
/// broadcast with zero strides). Adjacent axes that are contiguous for every operand are merged
/// first, so contiguous inputs run as one flat loop. Rows are split over threads; the arithmetic
/// ops run the C loops of `Kernels/elementwise.c` (`kb_binary`, `kb_unary`).
enum Elementwise {
    /// Elements below which a task is not worth handing to another thread.
    static let elementsPerTask = 32_768

    /// Merges axes that can be walked as one and drops size-1 axes.
    /// Returns the reduced shape and the matching strides for each operand.
    static func coalesce(shape: [Int], strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides: [[Int]] = Array(repeating: [], count: strides.count)
        for axis in 0..<shape.count where shape[axis] != 1 {
            if let lastExtent = outShape.last,
                strides.indices.allSatisfy({ strides[$0][axis] * shape[axis] == outStrides[$0].last! })
            {
                outShape[outShape.count - 1] = lastExtent * shape[axis]
                for operand in strides.indices { outStrides[operand][outStrides[operand].count - 1] = strides[operand][axis] }
            } else {
                outShape.append(shape[axis])
                for operand in strides.indices { outStrides[operand].append(strides[operand][axis]) }
            }
        }
        if outShape.isEmpty {
            return ([1], strides.map { _ in [1] })
        }
        return (outShape, outStrides)
    }

    /// Calls `body(rowIndex, offsets, length, innerStrides)` for each innermost row of `shape`,
    /// where `offsets[i]` is operand i's storage offset of the row's first element; `rowIndex * length`
    /// is the row's position in a contiguous output. Serial rows are visited in row-major order;
    /// `parallel` rows are split over threads in contiguous ranges (each row must then touch only
    /// its own output).
    @inline(__always)
    static func forEachRow(
        shape: [Int], strides: [[Int]], offsets: [Int], parallel: Bool = false,
        _ body: (_ row: Int, _ offsets: UnsafeBufferPointer<Int>, _ length: Int, _ innerStrides: UnsafeBufferPointer<Int>) -> Void
    ) {
        let (shape, strides) = coalesce(shape: shape, strides: strides)
        guard Shape.count(shape) > 0 else { return }
        let operands = strides.count
        let inner = shape.count - 1
        let length = shape[inner]
        let rows = Shape.count(shape) / Swift.max(length, 1)
        let innerStrides = strides.map { $0[inner] }
        func visit(_ range: Range<Int>) {
            // The outer index of the range's first row, and each operand's offset there.
            var index = [Int](repeating: 0, count: inner)
            var current = offsets
            var remainder = range.lowerBound
            for axis in stride(from: inner - 1, through: 0, by: -1) {
                index[axis] = remainder % shape[axis]
                remainder /= shape[axis]
                for operand in 0..<operands { current[operand] += index[axis] * strides[operand][axis] }
            }
            innerStrides.withUnsafeBufferPointer { innerBuffer in
                for row in range {
                    current.withUnsafeBufferPointer { body(row, $0, length, innerBuffer) }
                    var axis = inner - 1
                    while axis >= 0 {
                        index[axis] += 1
                        for operand in 0..<operands { current[operand] += strides[operand][axis] }
                        if index[axis] < shape[axis] { break }
                        for operand in 0..<operands { current[operand] -= strides[operand][axis] * shape[axis] }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        if parallel {
            Threading.parallelFor(rows, minimumPerTask: Swift.max(1, elementsPerTask / Swift.max(length, 1)), visit)
        } else {
            visit(0..<rows)
        }
    }

    /// y = f(x) elementwise; y contiguous with x's shape.
    @inline(__always)
    static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        let output = Tensor.empty(x.shape)
        let y = output.pointer
        let source = x.storage.pointer
        forEachRow(shape: x.shape, strides: [x.strides], offsets: [x.offset], parallel: true) { row, offsets, length, strides in
            let out = y + row * length
            let input = source + offsets[0]
            if strides[0] == 1 {
                for i in 0..<length { out[i] = f(input[i]) }
            } else {
                let step = strides[0]
                for i in 0..<length { out[i] = f(input[i * step]) }
            }
        }
        return output
    }

    /// z = f(a, b) elementwise with broadcasting; z contiguous with the broadcast shape.
    @inline(__always)
    static func zip(_ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float) -> Tensor {
        forEachBroadcastRow(a, b, op: op) { out, x, y, length, sx, sy in
            switch (sx, sy) {
            case (1, 1): for i in 0..<length { out[i] = f(x[i], y[i]) }
            case (1, 0): let v = y[0]; for i in 0..<length { out[i] = f(x[i], v) }
            case (0, 1): let u = x[0]; for i in 0..<length { out[i] = f(u, y[i]) }
            default: for i in 0..<length { out[i] = f(x[i * sx], y[i * sy]) }
            }
        }
    }

    /// A contiguous output of a's and b's broadcast shape, filled row by row (rows split over
    /// threads) by `body(out, x, y, length, xStride, yStride)` with each operand's row start.
    @inline(__always)
    private static func forEachBroadcastRow(
        _ a: Tensor, _ b: Tensor, op: String,
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int) -> Void
    ) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : Shape.broadcast(a.shape, b.shape, op: op)
        let output = Tensor.empty(shape)
        let z = output.pointer
        let aStrides = Shape.broadcastStrides(shape: a.shape, strides: a.strides, to: shape)
        let bStrides = Shape.broadcastStrides(shape: b.shape, strides: b.strides, to: shape)
        let aBase = a.storage.pointer, bBase = b.storage.pointer
        forEachRow(shape: shape, strides: [aStrides, bStrides], offsets: [a.offset, b.offset], parallel: true) {
            row, offsets, length, strides in
            body(z + row * length, aBase + offsets[0], bBase + offsets[1], length, strides[0], strides[1])
        }
        return output
    }

    /// w = f(a, b, c) elementwise with broadcasting over all three; w contiguous.
    @inline(__always)
    static func zip3(_ a: Tensor, _ b: Tensor, _ c: Tensor, op: String, _ f: (Float, Float, Float) -> Float) -> Tensor {
        let shape = Shape.broadcast(Shape.broadcast(a.shape, b.shape, op: op), c.shape, op: op)
        let output = Tensor.empty(shape)
        let w = output.pointer
        let operands = [a, b, c]
        let strides = operands.map { Shape.broadcastStrides(shape: $0.shape, strides: $0.strides, to: shape) }
        let (pa, pb, pc) = (a.storage.pointer, b.storage.pointer, c.storage.pointer)
        forEachRow(shape: shape, strides: strides, offsets: operands.map(\.offset), parallel: true) { row, offsets, length, inner in
            let out = w + row * length
            for i in 0..<length {
                out[i] = f(pa[offsets[0] + i * inner[0]], pb[offsets[1] + i * inner[1]], pc[offsets[2] + i * inner[2]])
            }
        }
        return output
    }

    /// a op b with broadcasting by the C loop `kb_binary`; contiguous with the broadcast shape.
    static func binary(_ a: Tensor, _ b: Tensor, _ kernel: kb_binary_op, op: String) -> Tensor {
        forEachBroadcastRow(a, b, op: op) { out, x, y, length, sx, sy in kb_binary(kernel, x, sx, y, sy, out, length) }
    }

    /// op(x) (with scalar `s` where the op takes one) by the C loop `kb_unary`; contiguous with x's shape.
    static func unary(_ x: Tensor, _ kernel: kb_unary_op, _ s: Float = 0) -> Tensor {
        let output = Tensor.empty(x.shape)
        let y = output.pointer, source = x.storage.pointer
        forEachRow(shape: x.shape, strides: [x.strides], offsets: [x.offset], parallel: true) { row, offsets, length, strides in
            kb_unary(kernel, source + offsets[0], strides[0], s, y + row * length, length)
        }
        return output
    }
}
