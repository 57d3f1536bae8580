/// Gather, index-select (embedding lookup), concatenation, splitting and masked selection.
extension Tensor {
    /// Picks slices along `axis` by index: result shape is shape[..<axis] + indices.shape +
    /// shape[(axis+1)...]. With `axis` 0 on an (V, C) table this is an embedding lookup.
    /// The backward scatter-adds into a zero tensor of the input's shape, or, for a leaf with a
    /// gradient buffer (an embedding table under `ParameterBuffer`), straight into that buffer: only
    /// the rows that occur are touched.
    public func indexSelect(axis: Int, indices: IndexTensor) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "index_select", shape: shape)
        indices.checkRange(shape[axis], op: "index_select", axis: axis, of: shape)
        let source = contiguousWithoutTape()
        let outer = shape[..<axis].reduce(1, *), extent = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outputShape = Array(shape[..<axis]) + indices.shape + Array(shape[(axis + 1)...])
        let output = Tensor.empty(outputShape)
        withExtendedLifetime(source) {
            let (x, y) = (source.pointer, output.pointer)
            for o in 0..<outer {
                for (j, index) in indices.values.enumerated() {
                    (y + (o * indices.count + j) * inner).update(from: x + (o * extent + index) * inner, count: inner)
                }
            }
        }
        return Tensor.record("index_select", inputs: [self], output: output) { [shape, table = self] gradient in
            let dy = gradient.contiguousWithoutTape()
            let target = table.leafGradientBuffer
            let dx = target ?? Tensor.zeros(shape)
            withExtendedLifetime(dy) {
                let (g, d) = (dy.pointer, dx.pointer)
                for o in 0..<outer {
                    for (j, index) in indices.values.enumerated() {
                        let from = g + (o * indices.count + j) * inner, to = d + (o * extent + index) * inner
                        for i in 0..<inner { to[i] += from[i] }
                    }
                }
            }
            return [target == nil ? dx : nil]
        }
    }

    /// PyTorch `gather`: out[…, j, …] = x[…, index[…, j, …], …] along `axis`. `index` has this
    /// tensor's rank and, off `axis`, extents no larger than this tensor's.
    public func gather(axis: Int, index: IndexTensor) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "gather", shape: shape)
        tensorCheck(
            index.rank == rank && (0..<rank).allSatisfy({ $0 == axis || index.shape[$0] <= shape[$0] }), "gather",
            "index of shape \(describeShape(index.shape)) does not fit input of shape \(describeShape(shape)) along axis \(axis)")
        index.checkRange(shape[axis], op: "gather", axis: axis, of: shape)
        let (positions, densePositions) = gatherPositions(axis: axis, index: index)
        let output = Tensor.empty(index.shape)
        for (j, position) in positions.enumerated() { output.pointer[j] = storage.pointer[position] }
        return Tensor.record("gather", inputs: [self], output: output) { [shape] gradient in
            let dy = gradient.contiguousWithoutTape()
            let dx = Tensor.zeros(shape)
            for (j, position) in densePositions.enumerated() { dx.pointer[position] += dy.pointer[j] }
            return [dx]
        }
    }

    /// Positions read by `gather`, in the index's row-major order: in this view's storage, and in
    /// a contiguous tensor of this shape (where the backward scatters).
    private func gatherPositions(axis: Int, index: IndexTensor) -> (storage: [Int], dense: [Int]) {
        let denseStrides = Shape.contiguousStrides(shape)
        var positions = [Int](repeating: 0, count: index.count)
        var densePositions = [Int](repeating: 0, count: index.count)
        var multiIndex = [Int](repeating: 0, count: rank)
        for j in 0..<index.count {
            var position = offset, dense = 0
            for d in 0..<rank {
                let coordinate = d == axis ? index.values[j] : multiIndex[d]
                position += coordinate * strides[d]
                dense += coordinate * denseStrides[d]
            }
            positions[j] = position
            densePositions[j] = dense
            var d = rank - 1
            while d >= 0 {
                multiIndex[d] += 1
                if multiIndex[d] < index.shape[d] { break }
                multiIndex[d] = 0
                d -= 1
            }
        }
        return (positions, densePositions)
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        tensorCheck(!tensors.isEmpty, "concat", "needs at least one tensor")
        let first = tensors[0]
        let axis = Shape.normalize(axis: axis, rank: first.rank, op: "concat", shape: first.shape)
        for tensor in tensors {
            var expected = first.shape, actual = tensor.shape
            if actual.count == expected.count { expected[axis] = 0; actual[axis] = 0 }
            tensorCheck(
                actual == expected, "concat",
                "shapes \(tensors.map { describeShape($0.shape) }.joined(separator: ", ")) differ off axis \(axis)")
        }
        var outputShape = first.shape
        outputShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
        let output = Tensor.empty(outputShape)
        var start = 0
        var ranges: [Range<Int>] = []
        for tensor in tensors {
            let range = start..<(start + tensor.shape[axis])
            output.sliced(axis: axis, range).assign(tensor)
            ranges.append(range)
            start = range.upperBound
        }
        return record("concat", inputs: tensors, output: output) { gradient in
            ranges.map { gradient.sliced(axis: axis, $0) }
        }
    }

    /// Cuts this tensor along `axis` into pieces of the given sizes (views).
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "split", shape: shape)
        tensorCheck(
            sizes.allSatisfy({ $0 >= 0 }) && sizes.reduce(0, +) == shape[axis], "split",
            "sizes \(sizes) do not add up to extent \(shape[axis]) of axis \(axis) in shape \(describeShape(shape))")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(axis: axis, start..<(start + size))
        }
    }

    /// Elementwise choice: `a` where `condition` is non-zero, else `b` (all three broadcast).
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let output = Elementwise.zip3(condition, a, b, op: "where") { c, x, y in c != 0 ? x : y }
        return record("where", inputs: [a, b], output: output) {
            [condition = condition.detached(), aShape = a.shape, bShape = b.shape] gradient in
            let zero = Tensor(0)
            return [
                Tensor.where(condition, gradient, zero).summed(toShape: aShape),
                Tensor.where(condition, zero, gradient).summed(toShape: bShape),
            ]
        }
    }

    /// This tensor with `value` wherever `mask` (broadcast) is non-zero — e.g. −∞ on padded keys.
    public func maskedFill(_ mask: Tensor, value: Float) -> Tensor {
        tensorCheck(
            Shape.broadcast(mask.shape, shape, op: "masked_fill") == shape, "masked_fill",
            "mask of shape \(describeShape(mask.shape)) does not broadcast to input shape \(describeShape(shape))")
        return Tensor.where(mask, Tensor(value), self)
    }
}
