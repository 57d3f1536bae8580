/// How many sequences one forward pass takes.
public enum BatchLimit: Sendable, Equatable {
    /// At most this many sequences.
    case sequences(Int)
    /// At most this many padded tokens (sequences × longest sequence), fair-esm's `--toks_per_batch`;
    /// a sequence longer than the budget runs alone.
    case tokens(Int)

    /// Splits `lengths` (already in processing order) into consecutive batches within the limit.
    public func batches(_ lengths: [Int]) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start = 0, longest = 0
        for (index, length) in lengths.enumerated() {
            let count = index - start + 1
            let fits: Bool = switch self {
            case .sequences(let limit): count <= limit
            case .tokens(let budget): count * max(longest, length) <= budget
            }
            if !fits && index > start {
                batches.append(start..<index)
                (start, longest) = (index, length)
            } else {
                longest = max(longest, length)
            }
        }
        if start < lengths.count { batches.append(start..<lengths.count) }
        return batches
    }
}
