/// An integer tensor for token ids, class labels and gather indices (row-major, 64-bit).
public struct IndexTensor: Equatable, Sendable {
    /// Extent of each axis.
    public let shape: [Int]
    /// The indices in row-major order.
    public let values: [Int]

    /// Indices in the given shape; `values.count` must fill it.
    public init(shape: [Int], values: [Int]) {
        tensorCheck(
            Shape.count(shape) == values.count && shape.allSatisfy({ $0 >= 0 }), "IndexTensor",
            "\(values.count) values do not fill shape \(describeShape(shape))")
        self.shape = shape
        self.values = values
    }

    /// A one-dimensional index tensor.
    public init(_ values: [Int]) {
        self.init(shape: [values.count], values: values)
    }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of indices.
    public var count: Int { values.count }

    /// Stops naming `op` unless every index lies in `0..<bound`.
    func checkRange(_ bound: Int, op: String, axis: Int, of tensorShape: [Int]) {
        for (position, value) in values.enumerated() where value < 0 || value >= bound {
            tensorFailure(
                op,
                "index \(value) at position \(position) is out of range for axis \(axis) "
                    + "(extent \(bound)) of shape \(describeShape(tensorShape))")
        }
    }
}
