/// Views: new shapes and strides over the same storage. Each records a node whose backward
/// maps the gradient back onto the input's shape.
extension Tensor {
    /// The same elements in a new shape; one extent may be -1 (inferred). A view when the
    /// tensor is contiguous, otherwise a contiguous copy first.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let target = resolveReshape(newShape)
        if target == shape { return self }
        let source = contiguous()
        let view = Tensor(storage: source.storage, shape: target, offset: source.offset)
        return Tensor.record("reshape", inputs: [source], output: view) { [shape = source.shape] gradient in
            [gradient.reshaped(shape)]
        }
    }

    private func resolveReshape(_ newShape: [Int]) -> [Int] {
        let inferred = newShape.filter { $0 == -1 }.count
        tensorCheck(
            inferred <= 1 && newShape.allSatisfy({ $0 >= -1 }), "reshape",
            "invalid target shape \(describeShape(newShape)) for shape \(describeShape(shape))")
        var target = newShape
        if let index = newShape.firstIndex(of: -1) {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            tensorCheck(
                known > 0 && count % known == 0, "reshape",
                "cannot reshape \(describeShape(shape)) (\(count) elements) into \(describeShape(newShape))")
            target[index] = count / known
        }
        tensorCheck(
            Shape.count(target) == count, "reshape",
            "cannot reshape \(describeShape(shape)) (\(count) elements) into \(describeShape(newShape))")
        return target
    }

    /// Reorders the axes: result axis i is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        tensorCheck(
            axes.count == rank, "permute",
            "\(axes.count) axes given for a tensor of shape \(describeShape(shape))")
        let normalized = axes.map { Shape.normalize(axis: $0, rank: rank, op: "permute", shape: shape) }
        tensorCheck(
            Set(normalized).count == rank, "permute",
            "axes \(axes) are not a permutation for shape \(describeShape(shape))")
        let view = Tensor(
            storage: storage, shape: normalized.map { shape[$0] }, strides: normalized.map { strides[$0] },
            offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (position, axis) in normalized.enumerated() { inverse[axis] = position }
        return Tensor.record("permute", inputs: [self], output: view) { gradient in [gradient.permuted(inverse)] }
    }

    /// Swaps two axes (a view).
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        let a = Shape.normalize(axis: first, rank: rank, op: "transpose", shape: shape)
        let b = Shape.normalize(axis: second, rank: rank, op: "transpose", shape: shape)
        if a == b { return self }
        var axes = Array(0..<rank)
        axes.swapAt(a, b)
        return permuted(axes)
    }

    /// Elements `range` along `axis`, every `step`-th (a view).
    public func sliced(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "slice", shape: shape)
        tensorCheck(
            range.lowerBound >= 0 && range.upperBound <= shape[axis] && step >= 1, "slice",
            "range \(range) (step \(step)) is out of bounds for axis \(axis) of shape \(describeShape(shape))")
        var newShape = shape, newStrides = strides
        newShape[axis] = (range.count + step - 1) / step
        newStrides[axis] = strides[axis] * step
        let view = Tensor(
            storage: storage, shape: newShape, strides: newStrides,
            offset: offset + (range.isEmpty ? 0 : range.lowerBound * strides[axis]))
        return Tensor.record("slice", inputs: [self], output: view) { [shape] gradient in
            let full = Tensor.zeros(shape)
            full.sliced(axis: axis, range, step: step).assign(gradient)
            return [full]
        }
    }

    /// Broadcasts to `target` by giving size-1 (or missing leading) axes a zero stride (a view).
    public func expanded(to target: [Int]) -> Tensor {
        tensorCheck(
            target.count >= rank && Shape.broadcast(shape, target, op: "expand") == target, "expand",
            "cannot expand shape \(describeShape(shape)) to \(describeShape(target))")
        if target == shape { return self }
        let view = Tensor(
            storage: storage, shape: target,
            strides: Shape.broadcastStrides(shape: shape, strides: strides, to: target), offset: offset)
        return Tensor.record("expand", inputs: [self], output: view) { [shape] gradient in
            [gradient.summed(toShape: shape)]
        }
    }

    /// Inserts a size-1 axis at `axis` (which may equal `rank`).
    public func unsqueezed(_ axis: Int) -> Tensor {
        let position = axis < 0 ? axis + rank + 1 : axis
        tensorCheck(
            position >= 0 && position <= rank, "unsqueeze",
            "axis \(axis) is out of range for shape \(describeShape(shape))")
        var newShape = shape
        newShape.insert(1, at: position)
        return reshaped(newShape)
    }

    /// Removes the size-1 axis `axis`.
    public func squeezed(_ axis: Int) -> Tensor {
        let position = Shape.normalize(axis: axis, rank: rank, op: "squeeze", shape: shape)
        tensorCheck(
            shape[position] == 1, "squeeze",
            "axis \(axis) has extent \(shape[position]), not 1, in shape \(describeShape(shape))")
        var newShape = shape
        newShape.remove(at: position)
        return reshaped(newShape)
    }
}
