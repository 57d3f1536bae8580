/// What inference does with a sequence that has more tokens than the model takes.
public enum LongSequencePolicy: String, Sendable, CaseIterable {
    /// Stop with an error naming the id, its length and the limit (the default: nothing is
    /// silently cut).
    case error
    /// Keep the first tokens (the special tokens at both ends stay).
    case truncate
    /// Slide overlapping windows over the residues and average each token's hidden states over
    /// the windows that contain it.
    case window
}

/// The windows that cover one over-long sequence.
///
/// A sequence of n tokens is `first`, r = n − 2 inner tokens, `last`. Each window holds `first`,
/// `width` = limit − 2 consecutive inner tokens and `last`; windows start every `stride` = ⌈width/2⌉
/// inner tokens (half-overlapping), and the last one is aligned to the end, so every inner token
/// lies in one or two windows (three where the last window's alignment adds overlap).
public struct WindowPlan: Sendable, Equatable {
    /// The first inner token of each window (0-based among the inner tokens).
    public let starts: [Int]
    /// Inner tokens per window.
    public let width: Int

    public init(innerCount: Int, limit: Int) {
        width = max(1, limit - 2)
        let stride = max(1, (width + 1) / 2)
        var starts: [Int] = []
        var start = 0
        while start + width < innerCount {
            starts.append(start)
            start += stride
        }
        starts.append(max(0, innerCount - width))
        self.starts = starts
    }

    /// The window tokens of `tokens` (first, inner slice, last).
    public func window(_ index: Int, of tokens: [Int]) -> [Int] {
        let inner = tokens[1..<(tokens.count - 1)]
        let start = inner.startIndex + starts[index]
        return [tokens[0]] + inner[start..<min(inner.endIndex, start + width)] + [tokens[tokens.count - 1]]
    }

    /// The window in which inner token `position` lies farthest from a window edge (for scoring a
    /// position with as much context on both sides as the windows allow).
    public func mostCentralWindow(for position: Int) -> Int {
        var best = 0, bestMargin = Int.min
        for (index, start) in starts.enumerated() where position >= start && position < start + width {
            let margin = min(position - start, start + width - 1 - position)
            if margin > bestMargin { (best, bestMargin) = (index, margin) }
        }
        return best
    }
}
