/// Shape arithmetic shared by all tensor operations: element counts, contiguous strides,
/// axis normalisation and NumPy-style broadcasting.
enum Shape {
    /// Number of elements of a tensor of this shape (1 for a scalar).
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides of a contiguous tensor of this shape.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= max(shape[axis], 1)
        }
        return strides
    }

    /// Turns a possibly negative axis into `0..<rank`, or stops naming the op.
    static func normalize(axis: Int, rank: Int, op: String, shape: [Int]) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        tensorCheck(
            rank > 0 && normalized >= 0 && normalized < rank, op,
            "axis \(axis) is out of range for a tensor of shape \(describeShape(shape))")
        return normalized
    }

    /// Normalises and sorts a list of axes, rejecting duplicates.
    static func normalize(axes: [Int], rank: Int, op: String, shape: [Int]) -> [Int] {
        let normalized = axes.map { normalize(axis: $0, rank: rank, op: op, shape: shape) }.sorted()
        tensorCheck(
            Set(normalized).count == normalized.count, op,
            "repeated axis in \(axes) for shape \(describeShape(shape))")
        return normalized
    }

    /// The shape two operands broadcast to (aligned at the trailing axis), or stops naming the op.
    static func broadcast(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            tensorCheck(
                da == db || da == 1 || db == 1, op,
                "shapes \(describeShape(a)) and \(describeShape(b)) cannot be broadcast together")
            result[i] = da == 1 ? db : da
        }
        return result
    }

    /// Strides that read a tensor of `shape`/`strides` as if it had `target` shape
    /// (0 along broadcast axes). `shape` must be broadcastable to `target`.
    static func broadcastStrides(shape: [Int], strides: [Int], to target: [Int]) -> [Int] {
        let offset = target.count - shape.count
        var result = [Int](repeating: 0, count: target.count)
        for i in 0..<shape.count where shape[i] == target[i + offset] && shape[i] != 1 {
            result[i + offset] = strides[i]
        }
        return result
    }
}
