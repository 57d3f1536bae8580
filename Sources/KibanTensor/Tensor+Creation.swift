extension Tensor {
    /// An uninitialised contiguous tensor (every element must be written before it is read).
    public static func empty(_ shape: [Int]) -> Tensor {
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "empty", "negative extent in shape \(describeShape(shape))")
        return Tensor(storage: Storage(uninitializedCount: Shape.count(shape)), shape: shape)
    }

    /// A contiguous tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "full", "negative extent in shape \(describeShape(shape))")
        let tensor = Tensor(storage: Storage(count: Shape.count(shape), repeating: value), shape: shape)
        tensor.requiresGrad = requiresGrad
        return tensor
    }

    /// A contiguous tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 0, requiresGrad: requiresGrad)
    }

    /// A contiguous tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    /// Standard normal samples times `scale`, drawn from `generator`.
    public static func randn(
        _ shape: [Int], scale: Float = 1, generator: RandomGenerator, requiresGrad: Bool = false
    ) -> Tensor {
        let tensor = empty(shape)
        for i in 0..<tensor.count { tensor.pointer[i] = generator.normal() * scale }
        tensor.requiresGrad = requiresGrad
        return tensor
    }

    /// Uniform samples in [low, high), drawn from `generator`.
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, generator: RandomGenerator, requiresGrad: Bool = false
    ) -> Tensor {
        let tensor = empty(shape)
        for i in 0..<tensor.count { tensor.pointer[i] = low + (high - low) * generator.uniform() }
        tensor.requiresGrad = requiresGrad
        return tensor
    }

    /// 0, 1, …, count − 1 as floats.
    public static func arange(_ count: Int) -> Tensor {
        tensorCheck(count >= 0, "arange", "count \(count) is negative")
        return Tensor(shape: [count], values: (0..<count).map(Float.init))
    }

    /// A contiguous copy that owns its storage and is not on the tape.
    public func copied() -> Tensor {
        Elementwise.map(self) { $0 }
    }

    /// This tensor if it is already contiguous, else a contiguous copy (recorded on the tape).
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        return Tensor.record("contiguous", inputs: [self], output: copied()) { gradient in [gradient] }
    }

    /// Copies `source` (broadcast to this shape) into this tensor's elements, bypassing the tape.
    public func assign(_ source: Tensor) {
        updateElements(from: source, op: "assign") { $0 = $1 }
    }

    /// Adds `other` (broadcast to this shape) into this tensor in place, bypassing the tape.
    public func addInPlace(_ other: Tensor) {
        updateElements(from: other, op: "addInPlace") { $0 += $1 }
    }

    /// Applies `update(&element, sourceElement)` to every element, with `source` broadcast to this shape.
    @inline(__always)
    private func updateElements(from source: Tensor, op: String, _ update: (inout Float, Float) -> Void) {
        tensorCheck(
            Shape.broadcast(source.shape, shape, op: op) == shape, op,
            "cannot write shape \(describeShape(source.shape)) into shape \(describeShape(shape))")
        let sourceStrides = Shape.broadcastStrides(shape: source.shape, strides: source.strides, to: shape)
        let destination = storage.pointer, from = source.storage.pointer
        Elementwise.forEachRow(shape: shape, strides: [strides, sourceStrides], offsets: [offset, source.offset]) {
            _, offsets, length, inner in
            let d = destination + offsets[0], s = from + offsets[1]
            if inner[0] == 1 && inner[1] == 1 {
                for i in 0..<length { update(&d[i], s[i]) }
            } else {
                for i in 0..<length { update(&d[i * inner[0]], s[i * inner[1]]) }
            }
        }
    }

    /// Sets every element to `value` in place, bypassing the tape.
    public func fill(_ value: Float) {
        assign(Tensor(value))
    }
}
