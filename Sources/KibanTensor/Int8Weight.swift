import KibanKernels

// Dim legend: D output features (channels), K input features.

/// A (D, K) weight quantised to int8 with one scale per output channel, packed once for
/// ``Tensor/int8Linear(_:weight:bias:)``.
///
/// Row d of the weight is quantised symmetrically as `kb_quantize_rows_int8` does it:
/// scale[d] = max|W[d, :]| / 127 and Wq[d, k] = W[d, k] / scale[d] rounded to nearest, ties to even,
/// so |W[d, k] − scale[d]·Wq[d, k]| ≤ scale[d] / 2. The int8 values are then packed into the panel
/// layout of `kb_int8_pack_weights` (with their column sums) and the float weight is not kept.
/// An instance never changes after it is built, so threads may share it.
public final class Int8Weight: @unchecked Sendable {
    /// D: output channels (rows of the float weight).
    public let outputs: Int
    /// K: input features (columns of the float weight).
    public let inputs: Int
    /// One scale per output channel: (D).
    public let scales: [Float]
    /// `kb_int8_packed_bytes(D, K)` bytes, 64-byte aligned.
    let packed: UnsafeMutableRawPointer

    /// Quantises and packs `weight`: (D, K) float, laid out as PyTorch stores a Linear weight.
    /// K must not exceed 131072, so that every int32 dot product is exact.
    public init(_ weight: Tensor) {
        tensorCheck(weight.rank == 2, "int8 weight", "weight of shape \(describeShape(weight.shape)); expected (D, K)")
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        tensorCheck(
            outputs > 0 && inputs > 0 && inputs <= 131_072, "int8 weight",
            "weight of shape \(describeShape(weight.shape)); D and K must be positive and K ≤ 131072")
        (self.outputs, self.inputs) = (outputs, inputs)
        let values = weight.contiguousWithoutTape()
        var quantized = [Int8](repeating: 0, count: outputs * inputs)
        var scales = [Float](repeating: 0, count: outputs)
        withExtendedLifetime(values) {
            kb_quantize_rows_int8(values.pointer, &quantized, &scales, outputs, inputs)
        }
        self.scales = scales
        packed = UnsafeMutableRawPointer.allocate(byteCount: kb_int8_packed_bytes(outputs, inputs), alignment: 64)
        kb_int8_pack_weights(quantized, outputs, inputs, packed)
    }

    deinit { packed.deallocate() }
}
