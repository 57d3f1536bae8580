// Dim legend used across KibanTensor: N rows, C columns/channels, B batch, T tokens,
// M×K and K×N matrix operands.

/// An n-dimensional float32 array: a view (shape, strides, offset) onto a shared ``Storage``,
/// with reverse-mode automatic differentiation.
///
/// Views (`reshaped`, `permuted`, `transposed`, `sliced`, `expanded`) share storage and cost no
/// copy. Operations on tensors that require gradients record a ``GradNode`` on a dynamic tape;
/// ``backward(gradient:)`` walks it once and releases each node's saved tensors as soon as it
/// has run. Gradients of leaves accumulate into ``grad``.
public final class Tensor {
    /// The buffer this tensor views.
    public let storage: Storage
    /// Extent of each axis.
    public let shape: [Int]
    /// Elements to step in `storage` to move one position along each axis (0 on broadcast axes).
    public let strides: [Int]
    /// Index in `storage` of the first element.
    public let offset: Int

    /// The tape node that produced this tensor, `nil` for leaves and for values computed without grad.
    public internal(set) var gradNode: GradNode?
    private var leafRequiresGrad = false
    /// Accumulated gradient of a leaf after ``backward(gradient:)``; same shape as the tensor.
    public var grad: Tensor?

    /// Wraps an existing storage view. Strides and offset must address elements inside `storage`.
    public init(storage: Storage, shape: [Int], strides: [Int]? = nil, offset: Int = 0) {
        let strides = strides ?? Shape.contiguousStrides(shape)
        tensorCheck(strides.count == shape.count, "Tensor.init", "\(strides.count) strides for shape \(describeShape(shape))")
        tensorCheck(shape.allSatisfy { $0 >= 0 }, "Tensor.init", "negative extent in shape \(describeShape(shape))")
        if Shape.count(shape) > 0 {
            var low = offset, high = offset
            for (extent, stride) in zip(shape, strides) {
                let reach = (extent - 1) * stride
                if reach < 0 { low += reach } else { high += reach }
            }
            tensorCheck(
                low >= 0 && high < storage.count, "Tensor.init",
                "view of shape \(describeShape(shape)) with strides \(strides) and offset \(offset) "
                    + "reaches outside a storage of \(storage.count) elements")
        }
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A contiguous tensor holding `values` (row-major) in the given shape.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        tensorCheck(
            Shape.count(shape) == values.count, "Tensor.init",
            "\(values.count) values do not fill shape \(describeShape(shape))")
        let storage = Storage(uninitializedCount: values.count)
        values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: values.count) }
        self.init(storage: storage, shape: shape)
        self.requiresGrad = requiresGrad
    }

    /// A scalar (rank-0) tensor.
    public convenience init(_ value: Float, requiresGrad: Bool = false) {
        self.init(shape: [], values: [value], requiresGrad: requiresGrad)
    }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { Shape.count(shape) }
    /// Pointer to the first element of this view.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }
    /// Whether elements are laid out row-major without gaps, so `pointer[0..<count]` is the tensor.
    public var isContiguous: Bool {
        if count == 0 { return true }
        var expected = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Whether gradients flow to this tensor: a leaf marked for it, or the result of an op on one.
    /// Only leaves can be marked; setting it on a computed tensor stops the program.
    public var requiresGrad: Bool {
        get { gradNode != nil || leafRequiresGrad }
        set {
            tensorCheck(
                gradNode == nil, "requiresGrad",
                "can only be set on a leaf; call detach() first for a tensor of shape \(describeShape(shape))")
            leafRequiresGrad = newValue
        }
    }

    /// Whether this tensor was produced by no recorded op.
    public var isLeaf: Bool { gradNode == nil }

    /// The same values, cut off from the tape (shares storage).
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
    }

    /// The elements in row-major order.
    public func toArray() -> [Float] {
        let source = contiguous()
        return Array(UnsafeBufferPointer(start: source.pointer, count: source.count))
    }

    /// The single value of a one-element tensor.
    public func item() -> Float {
        tensorCheck(count == 1, "item", "tensor of shape \(describeShape(shape)) has \(count) elements, not 1")
        return pointer[0]
    }

    /// Storage index of the element at a multi-index.
    func storageIndex(_ index: [Int]) -> Int {
        tensorCheck(index.count == rank, "subscript", "\(index.count) indices for shape \(describeShape(shape))")
        var position = offset
        for axis in 0..<rank {
            tensorCheck(
                index[axis] >= 0 && index[axis] < shape[axis], "subscript",
                "index \(index) is out of range for shape \(describeShape(shape))")
            position += index[axis] * strides[axis]
        }
        return position
    }

    /// Reads or writes one element. Writing bypasses the tape; use it for setup, not inside a model.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[storageIndex(index)] }
        set { storage.pointer[storageIndex(index)] = newValue }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = count <= 16 ? toArray().map { "\($0)" }.joined(separator: ", ") : "\(count) values"
        return "Tensor\(describeShape(shape))[\(values)]"
    }
}
