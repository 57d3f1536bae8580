/// Sequences laid back to back in one row of tokens, with no padding between them: the cumulative
/// sequence lengths that FlashAttention calls `cu_seqlens`. Token j of the row belongs to the
/// sequence i with `offsets[i] ≤ j < offsets[i + 1]`.
public struct SequencePacking: Sendable, Equatable {
    /// count + 1 boundaries, from 0 to the total number of tokens.
    public let offsets: [Int]

    /// Packs sequences of these lengths in this order; every length must be positive.
    public init(lengths: [Int]) {
        tensorCheck(!lengths.isEmpty && lengths.allSatisfy { $0 > 0 }, "packing", "sequence lengths must be positive: \(lengths)")
        var offsets = [0]
        offsets.reserveCapacity(lengths.count + 1)
        for length in lengths { offsets.append(offsets[offsets.count - 1] + length) }
        self.offsets = offsets
    }

    /// The number of sequences.
    public var count: Int { offsets.count - 1 }

    /// The number of tokens in the row.
    public var tokens: Int { offsets[offsets.count - 1] }

    /// The tokens of sequence `index` in the row.
    public func range(_ index: Int) -> Range<Int> { offsets[index]..<offsets[index + 1] }

    /// Each token's position within its own sequence: (tokens).
    public var positions: [Int] {
        (0..<count).flatMap { index in 0..<range(index).count }
    }
}
