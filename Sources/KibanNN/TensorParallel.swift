import KibanDistributed
import KibanTensor

// Dim legend: N rows, C features, V vocabulary, Vr this rank's vocabulary slice.

/// The ranks that hold one copy of a model between them, Megatron-style: each holds a slice of
/// every split weight and the full copy of the rest, and all run the same batch.
public final class TensorParallelGroup {
    public let communicator: Communicator
    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    public init(_ communicator: Communicator) {
        self.communicator = communicator
    }

    /// Rank `rank`'s part of `0..<count` split in `size` parts as equal as they can be (the first
    /// `count % size` parts one longer: a vocabulary of 33 splits 17 + 16).
    public func part(of count: Int, rank: Int? = nil) -> Range<Int> {
        let rank = rank ?? self.rank
        let (base, extra) = (count / size, count % size)
        let start = rank * base + Swift.min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// This rank's part of `0..<count`, which must split evenly (heads, feed-forward width).
    public func evenPart(of count: Int, what: String) -> Range<Int> {
        tensorCheck(count % size == 0, "tensor_parallel", "\(count) \(what) do not split evenly over \(size) ranks")
        return part(of: count)
    }

    /// `x` summed element-wise over the group (a new contiguous tensor, no gradient).
    func summed(_ x: Tensor) -> Tensor {
        var values = x.toArray()
        values.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
        return Tensor(shape: x.shape, values: values)
    }

    /// Megatron's `f`: the identity forward; backward, the gradients of every rank's slice of the
    /// computation that follows are summed. Put where a replicated tensor enters split layers.
    public func copyToRegion(_ x: Tensor) -> Tensor {
        guard size > 1 else { return x }
        return Tensor.record("tensor_parallel_copy", inputs: [x], output: x.copied()) { [self] gradient in [summed(gradient)] }
    }

    /// Megatron's `g`: partial results summed over the group forward; backward, the identity.
    /// Put where split layers produce partial sums of a replicated tensor.
    public func reduceFromRegion(_ x: Tensor) -> Tensor {
        guard size > 1 else { return x }
        return Tensor.record("tensor_parallel_reduce", inputs: [x], output: summed(x)) { gradient in [gradient] }
    }

    /// Cross-entropy of logits split over the vocabulary: logits (N, Vr) hold classes
    /// `vocabulary` of every row; targets (N) are global class ids, −100 to ignore → the mean
    /// loss over scored rows, the same on every rank, equal to the unsplit cross-entropy.
    public func vocabularyParallelCrossEntropy(_ logits: Tensor, targets: IndexTensor, vocabulary: Range<Int>) -> Tensor {
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        tensorCheck(classes == vocabulary.count, "tensor_parallel", "\(classes) logits for a vocabulary slice of \(vocabulary.count)")
        let scored = targets.values.map { $0 == -100 ? Float(0) : 1 }
        let count = scored.reduce(0, +)
        guard count > 0 else { return (logits * 0).sum() }
        var maxima = withNoGrad { logits.max(axis: 1).toArray() }
        maxima.withUnsafeMutableBufferPointer { communicator.allReduce($0, .max) }
        let shifted = logits - Tensor(shape: [rows, 1], values: maxima)
        let sumOfExponentials = reduceFromRegion(shifted.exp().summed(axes: [1]))
        var picks = [Float](repeating: 0, count: rows * classes)
        for (row, target) in targets.values.enumerated() where vocabulary.contains(target) {
            picks[row * classes + target - vocabulary.lowerBound] = 1
        }
        let targetLogits = reduceFromRegion((shifted * Tensor(shape: [rows, classes], values: picks)).summed(axes: [1]))
        let losses = (sumOfExponentials.log() - targetLogits) * Tensor(shape: [rows], values: scored)
        return losses.sum() * (1 / count)
    }

    /// Looks up ids in an embedding split over the vocabulary: weight (Vr, C) holds rows
    /// `vocabulary`; ids outside it give zeros here and their row on the rank that has it → (…, C).
    public func vocabularyParallelEmbedding(_ weight: Tensor, ids: IndexTensor, vocabulary: Range<Int>) -> Tensor {
        let local = ids.values.map { vocabulary.contains($0) ? $0 - vocabulary.lowerBound : 0 }
        let held = ids.values.map { vocabulary.contains($0) ? Float(1) : 0 }
        let rows = weight.indexSelect(axis: 0, indices: IndexTensor(shape: ids.shape, values: local))
        return reduceFromRegion(rows * Tensor(shape: ids.shape + [1], values: held))
    }
}

/// Which parameters a model split over a tensor-parallel group, along which axis and from which
/// whole length, so checkpoints can store whole tensors and load them at any layout.
public struct TensorParallelLayout: Sendable {
    public struct Split: Sendable, Equatable {
        public let axis: Int
        /// The axis's length in the whole tensor.
        public let length: Int
    }

    /// Split parameters by dotted name (the others are replicated).
    public var splits: [String: Split] = [:]

    public init() {}

    /// Keeps `group`'s part of axis `axis` of `parameter` (named `name`) and records the split.
    public mutating func split(_ parameter: Parameter, name: String, axis: Int, group: TensorParallelGroup, evenly: Bool = true) {
        let length = parameter.shape[axis]
        let part = evenly ? group.evenPart(of: length, what: "rows of \(name)") : group.part(of: length)
        parameter.value = withNoGrad { parameter.value.sliced(axis: axis, part).contiguous() }
        splits[name] = Split(axis: axis, length: length)
    }

    /// The same splits under `prefix` (where the split module sits in a larger tree).
    public func prefixed(_ prefix: String) -> TensorParallelLayout {
        var layout = TensorParallelLayout()
        layout.splits = Dictionary(uniqueKeysWithValues: splits.map { (prefix + $0.key, $0.value) })
        return layout
    }
}
