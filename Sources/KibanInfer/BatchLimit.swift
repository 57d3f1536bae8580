/// How many sequences one forward pass takes.
public enum BatchLimit: Sendable, Equatable {
    /// At most this many sequences.
    case sequences(Int)
    /// At most this many tokens: padded tokens (sequences × longest sequence, fair-esm's
    /// `--toks_per_batch`), or the tokens themselves when the batch is packed without padding; a
    /// sequence longer than the budget runs alone.
    case tokens(Int)

    /// Splits `lengths` (already in processing order) into consecutive batches within the limit,
    /// counting tokens as `layout` lays them out.
    public func batches(_ lengths: [Int], layout: BatchLayout = .padded) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start = 0, longest = 0, total = 0
        for (index, length) in lengths.enumerated() {
            let count = index - start + 1
            let fits: Bool = switch self {
            case .sequences(let limit): count <= limit
            case .tokens(let budget): (layout == .packed ? total + length : count * max(longest, length)) <= budget
            }
            if !fits && index > start {
                batches.append(start..<index)
                (start, longest, total) = (index, length, length)
            } else {
                longest = max(longest, length)
                total += length
            }
        }
        if start < lengths.count { batches.append(start..<lengths.count) }
        return batches
    }
}
