import KibanData
import KibanModels
import KibanTensor

// Dim legend: B segments per batch, T padded tokens, N packed tokens, n tokens of one sequence, C hidden size.

/// The hidden states of one sequence: for each requested layer, n × C floats (row-major), where
/// n counts the special tokens at both ends. Over-long sequences under the window policy hold the
/// average over the windows that contain each token.
public struct EncodedSequence {
    public let tokens: [Int]
    public let width: Int
    public var states: [Int: [Float]]

    /// Row `position` of `layer`.
    public func row(_ position: Int, layer: Int) -> ArraySlice<Float> {
        states[layer]![(position * width)..<((position + 1) * width)]
    }
}

/// How a batch's sequences are laid out for the encoder.
public enum BatchLayout: String, Sendable, CaseIterable {
    /// Back to back in one row, no padding (encoders that support it; others are padded).
    case packed
    /// One row per sequence, padded to the longest and masked.
    case padded
}

/// Runs an encoder over many sequences: windows for over-long ones, length-sorted batches within
/// a limit, results per sequence. Every sequence's states are independent of which others share
/// its batch: padding is masked out of attention (or there is none, packed), and no reduction
/// spans sequences.
public struct EncoderPass {
    public let encoder: HiddenStateEncoder
    public let padID: Int
    public let limit: Int
    public let batching: BatchLimit
    public let layout: BatchLayout

    public init(encoder: HiddenStateEncoder, padID: Int, limit: Int, batching: BatchLimit, layout: BatchLayout = .packed) {
        (self.encoder, self.padID, self.limit, self.batching, self.layout) = (encoder, padID, limit, batching, layout)
    }

    /// One segment the encoder sees: a whole sequence or one window of it.
    struct Segment {
        let sequence: Int
        let window: Int?
        let tokens: [Int]
    }

    /// sequences: token ids with special tokens, each either within `limit` or to be windowed
    /// → the states of `layers` for each sequence, in the same order.
    public func encode(_ sequences: [[Int]], layers: Set<Int>) -> [EncodedSequence] {
        let width = encoder.hiddenWidth
        var segments: [Segment] = []
        var plans: [Int: WindowPlan] = [:]
        for (index, tokens) in sequences.enumerated() {
            if tokens.count <= limit {
                segments.append(Segment(sequence: index, window: nil, tokens: tokens))
            } else {
                let plan = WindowPlan(innerCount: tokens.count - 2, limit: limit)
                plans[index] = plan
                for window in plan.starts.indices {
                    segments.append(Segment(sequence: index, window: window, tokens: plan.window(window, of: tokens)))
                }
            }
        }
        let order = segments.indices.sorted { (segments[$0].tokens.count, $0) < (segments[$1].tokens.count, $1) }
        var sums = sequences.map { tokens in Dictionary(uniqueKeysWithValues: layers.map { ($0, [Float](repeating: 0, count: tokens.count * width)) }) }
        var counts = sequences.map { [Float](repeating: 0, count: $0.count) }
        let packs = layout == .packed && encoder is PackedHiddenStateEncoder
        for batch in batching.batches(order.map { segments[$0].tokens.count }, layout: packs ? .packed : .padded) {
            let members = batch.map { segments[order[$0]] }
            let (states, starts) = run(members.map(\.tokens), layers: layers)
            for (row, member) in members.enumerated() {
                let positions = targetPositions(member, plan: member.window.flatMap { _ in plans[member.sequence] }, total: sequences[member.sequence].count)
                for (layer, values) in states {
                    let base = starts[row] * width
                    sums[member.sequence][layer]!.withUnsafeMutableBufferPointer { target in
                        for (source, destination) in positions.enumerated() {
                            for c in 0..<width { target[destination * width + c] += values[base + source * width + c] }
                        }
                    }
                }
                for destination in positions { counts[member.sequence][destination] += 1 }
            }
        }
        return sequences.indices.map { index in
            var states = sums[index]
            if plans[index] != nil {
                for layer in layers {
                    for (position, count) in counts[index].enumerated() where count > 1 {
                        for c in 0..<width { states[layer]![position * width + c] /= count }
                    }
                }
            }
            return EncodedSequence(tokens: sequences[index], width: width, states: states)
        }
    }

    /// One batch through the encoder → each layer's states as floats and the row where each member's
    /// first token is: packed (1, N, C), starts at the cumulative lengths; or padded (B, T, C), starts
    /// at multiples of T.
    private func run(_ members: [[Int]], layers: Set<Int>) -> (states: [Int: [Float]], starts: [Int]) {
        if layout == .packed, let packer = encoder as? PackedHiddenStateEncoder {
            let packing = SequencePacking(lengths: members.map(\.count))
            let ids = IndexTensor(shape: [1, packing.tokens], values: members.flatMap { $0 })
            let states = withNoGrad { packer.hiddenStates(packed: ids, packing: packing, layers: layers).mapValues { $0.toArray() } }
            return (states, Array(packing.offsets.dropLast()))
        }
        let padded = Self.pad(members, padID: padID)
        let longest = padded.ids.shape[1]
        let states = withNoGrad {
            encoder.hiddenStates(padded.ids, attentionMask: padded.mask, layers: layers).mapValues { $0.toArray() }
        }
        return (states, members.indices.map { $0 * longest })
    }

    /// Sequences padded to the longest with `padID` (none is cut: callers keep them within the limit).
    static func pad(_ sequences: [[Int]], padID: Int) -> TokenBatch {
        Batching.pad(sequences, indices: [], maximumLength: sequences.map(\.count).max()!, padID: padID, policy: .truncate,
                     generator: RandomGenerator(seed: 0))
    }

    /// Where each token of a segment lies in its whole sequence.
    private func targetPositions(_ segment: Segment, plan: WindowPlan?, total: Int) -> [Int] {
        guard let plan, let window = segment.window else { return Array(segment.tokens.indices) }
        let start = plan.starts[window]
        return [0] + (0..<(segment.tokens.count - 2)).map { 1 + start + $0 } + [total - 1]
    }
}
