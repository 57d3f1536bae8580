import KibanKernels

/// Reductions over axes. Sums accumulate in Double in row-major input order, so a result does not
/// depend on the thread count.
extension Tensor {
    /// Sum over `axes` (an empty list sums nothing; use ``sum()`` for every axis).
    public func summed(axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let axes = Shape.normalize(axes: axes, rank: rank, op: "sum", shape: shape)
        var keptShape = shape
        for axis in axes { keptShape[axis] = 1 }
        let output = reduceSum(toKeptShape: keptShape)
        let droppedShape = shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
        let result = keepingDimensions ? output : output.reshapedWithoutTape(droppedShape)
        return Tensor.record("sum", inputs: [self], output: result) { [shape] gradient in
            [gradient.reshaped(keptShape).expanded(to: shape)]
        }
    }

    /// Sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        summed(axes: Array(0..<rank))
    }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = Shape.normalize(axes: axes, rank: rank, op: "mean", shape: shape)
        let reducedCount = normalized.map { shape[$0] }.reduce(1, *)
        return summed(axes: normalized, keepingDimensions: keepingDimensions) / Float(Swift.max(reducedCount, 1))
    }

    /// Mean of all elements, as a scalar tensor.
    public func mean() -> Tensor {
        mean(axes: Array(0..<rank))
    }

    /// Maximum along `axis`; the gradient goes to the first maximal element.
    public func max(axis: Int, keepingDimensions: Bool = false) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "max", shape: shape)
        tensorCheck(shape[axis] > 0, "max", "axis \(axis) of shape \(describeShape(shape)) is empty")
        let rows = transposed(axis, -1).contiguousWithoutTape()
        let length = shape[axis], rowCount = count / length
        var keptShape = shape
        keptShape[axis] = 1
        var movedShape = rows.shape
        movedShape[movedShape.count - 1] = 1
        let values = Tensor.empty(movedShape)
        var argmax = [Int](repeating: 0, count: rowCount)
        for row in 0..<rowCount {
            let start = rows.pointer + row * length
            var best = 0
            for i in 1..<length where start[i] > start[best] { best = i }
            argmax[row] = best
            values.pointer[row] = start[best]
        }
        let kept = values.withoutTape { $0.transposed(axis, -1).contiguous() }
        var squeezedShape = shape
        squeezedShape.remove(at: axis)
        let output = keepingDimensions ? kept : kept.reshapedWithoutTape(squeezedShape)
        return Tensor.record("max", inputs: [self], output: output) { [movedShape = rows.shape] gradient in
            let routed = Tensor.zeros(movedShape)
            let upstream = gradient.reshaped(keptShape).transposed(axis, -1).contiguous()
            for row in 0..<rowCount { routed.pointer[row * length + argmax[row]] = upstream.pointer[row] }
            return [routed.transposed(axis, -1).contiguous()]
        }
    }

    /// Sums broadcast axes away so the result has `target` shape (the backward of broadcasting).
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        tensorCheck(
            Shape.broadcast(target, shape, op: "sum_to_shape") == shape, "sum_to_shape",
            "shape \(describeShape(shape)) is not a broadcast of \(describeShape(target))")
        let leading = rank - target.count
        var keptShape = [Int](repeating: 1, count: leading) + target
        for axis in 0..<rank where keptShape[axis] != shape[axis] { keptShape[axis] = 1 }
        let reduced = reduceSum(toKeptShape: keptShape)
        return Tensor.record("sum_to_shape", inputs: [self], output: reduced.reshapedWithoutTape(target)) {
            [shape] gradient in [gradient.expanded(to: shape)]
        }
    }

    /// Sums into a contiguous tensor of `keptShape` (this shape with reduced axes set to 1): by the
    /// parallel C loop `kb_sum_axis` when this tensor is contiguous and the reduced axes are adjacent,
    /// else by the strided engine, in the same order of additions.
    private func reduceSum(toKeptShape keptShape: [Int]) -> Tensor {
        let reduced = shape.indices.filter { keptShape[$0] != shape[$0] }
        if isContiguous, let first = reduced.first, let last = reduced.last, last - first + 1 == reduced.count {
            let output = Tensor.empty(keptShape)
            Tensor.sumAxis(
                pointer, outer: Shape.count(Array(shape[..<first])), reduced: Shape.count(Array(shape[first...last])),
                inner: Shape.count(Array(shape[(last + 1)...])), into: output.pointer, accumulate: false)
            return output
        }
        var accumulator = [Double](repeating: 0, count: Shape.count(keptShape))
        let outputStrides = Shape.broadcastStrides(
            shape: keptShape, strides: Shape.contiguousStrides(keptShape), to: shape)
        let source = storage.pointer
        accumulator.withUnsafeMutableBufferPointer { sums in
            Elementwise.forEachRow(shape: shape, strides: [strides, outputStrides], offsets: [offset, 0]) {
                _, offsets, length, inner in
                let x = source + offsets[0]
                if inner[1] == 0 {
                    var total = 0.0
                    for i in 0..<length { total += Double(x[i * inner[0]]) }
                    sums[offsets[1]] += total
                } else {
                    for i in 0..<length { sums[offsets[1] + i * inner[1]] += Double(x[i * inner[0]]) }
                }
            }
        }
        return Tensor(shape: keptShape, values: accumulator.map(Float.init))
    }

    /// A reshape of a contiguous result that records nothing (used while building outputs).
    func reshapedWithoutTape(_ newShape: [Int]) -> Tensor {
        Tensor(storage: storage, shape: newShape, offset: offset)
    }

    /// A contiguous copy (or self) that records nothing.
    func contiguousWithoutTape() -> Tensor {
        isContiguous ? detached() : copied()
    }

    /// Runs view operations on a detached copy so nothing is recorded.
    func withoutTape(_ body: (Tensor) -> Tensor) -> Tensor {
        withNoGrad { body(detached()) }
    }

    /// Sums over the middle axis of a contiguous (outer, reduced, inner) buffer into (outer, inner),
    /// added to `target` when `accumulate`; split over threads by outer rows or inner columns, each
    /// sum in the same order (`kb_sum_axis`).
    static func sumAxis(
        _ x: UnsafeMutablePointer<Float>, outer: Int, reduced: Int, inner: Int, into target: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let work = Swift.max(reduced * inner, 1), flag: Int32 = accumulate ? 1 : 0
        if outer > 1 {
            Threading.parallelFor(outer, minimumPerTask: Swift.max(1, Elementwise.elementsPerTask / work)) { range in
                kb_sum_axis(x + range.lowerBound * reduced * inner, range.count, reduced, inner, inner, target + range.lowerBound * inner, flag)
            }
        } else {
            Threading.parallelFor(inner, minimumPerTask: Swift.max(16, Elementwise.elementsPerTask / Swift.max(reduced, 1))) { range in
                kb_sum_axis(x + range.lowerBound, 1, reduced, inner, range.count, target + range.lowerBound, flag)
            }
        }
    }
}
