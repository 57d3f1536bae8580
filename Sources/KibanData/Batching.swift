import KibanTensor

// Dim legend: B sequences per batch, T padded length.

/// What happens to a sequence longer than the model's maximum length.
public enum LengthPolicy: Sendable {
    /// Keep a window at a random offset (training: every part of a long protein gets seen).
    case randomCrop
    /// Keep the first `maximum` tokens (evaluation: deterministic).
    case truncate
}

/// A padded batch of token sequences.
public struct TokenBatch {
    /// ids: (B, T), padded with the pad id.
    public let ids: IndexTensor
    /// mask: (B, T), 1 for real tokens, 0 for padding.
    public let mask: Tensor
    /// The corpus indices of the rows.
    public let indices: [Int]
}

extension TokenBatch {
    /// The batch's real tokens packed back to back without padding: ids (1, N) in row order and
    /// the packing (each row's real tokens, which `Batching.pad` puts first).
    public func packed() -> (ids: IndexTensor, packing: SequencePacking) {
        let (rows, width) = (ids.shape[0], ids.shape[1])
        let lengths = mask.summed(axes: [1]).toArray().map { Int($0) }
        var values: [Int] = []
        values.reserveCapacity(lengths.reduce(0, +))
        for row in 0..<rows { values += ids.values[(row * width)..<(row * width + lengths[row])] }
        return (IndexTensor(shape: [1, values.count], values: values), SequencePacking(lengths: lengths))
    }
}

/// Deterministic batching: length-bucketed, seeded shuffles, padding and the long-sequence policy.
public enum Batching {
    /// Splits `indices` into batches of similar length: shuffle by `seed`, sort each window of
    /// `bucketBatches` batches by length, cut into batches, and shuffle the batch order. The same
    /// seed gives the same batches.
    public static func lengthBucketed(
        _ indices: [Int], lengths: (Int) -> Int, batchSize: Int, seed: UInt64, bucketBatches: Int = 50
    ) -> [[Int]] {
        tensorCheck(batchSize > 0, "batching", "batch size \(batchSize) must be positive")
        var generator = RandomGenerator(seed: seed) as RandomGenerator
        var shuffled = indices
        shuffled.shuffle(using: &generator)
        var batches: [[Int]] = []
        for windowStart in stride(from: 0, to: shuffled.count, by: batchSize * bucketBatches) {
            let window = shuffled[windowStart..<min(shuffled.count, windowStart + batchSize * bucketBatches)]
            let sorted = window.sorted { (lengths($0), $0) < (lengths($1), $1) }
            for start in stride(from: 0, to: sorted.count, by: batchSize) {
                batches.append(Array(sorted[start..<min(sorted.count, start + batchSize)]))
            }
        }
        batches.shuffle(using: &generator)
        return batches
    }

    /// Pads `sequences` to the longest (at most `maximumLength`) with `padID`; longer ones follow
    /// `policy`, drawing crop offsets from `generator`.
    public static func pad(
        _ sequences: [[Int]], indices: [Int], maximumLength: Int, padID: Int, policy: LengthPolicy, generator: RandomGenerator
    ) -> TokenBatch {
        tensorCheck(maximumLength > 0 && !sequences.isEmpty, "batching", "needs sequences and a positive maximum length")
        let fitted = sequences.map { sequence -> [Int] in
            guard sequence.count > maximumLength else { return sequence }
            switch policy {
            case .truncate: return Array(sequence.prefix(maximumLength))
            case .randomCrop:
                let start = Int(generator.next() % UInt64(sequence.count - maximumLength + 1))
                return Array(sequence[start..<(start + maximumLength)])
            }
        }
        let width = fitted.map(\.count).max() ?? 0
        var ids: [Int] = [], mask: [Float] = []
        for sequence in fitted {
            ids += sequence + Array(repeating: padID, count: width - sequence.count)
            mask += Array(repeating: 1, count: sequence.count) + Array(repeating: 0, count: width - sequence.count)
        }
        return TokenBatch(
            ids: IndexTensor(shape: [fitted.count, width], values: ids), mask: Tensor(shape: [fitted.count, width], values: mask),
            indices: indices)
    }
}

/// BERT/ESM masked-language-model corruption, reproducible from a generator.
public enum MaskedLanguageModeling {
    /// Selects each maskable token with `probability`; a selected token becomes `maskID` (80%),
    /// a random token from `randomTokens` (10%) or stays (10%). Labels hold the original id at
    /// selected positions and −100 elsewhere. Special tokens and padding are never selected.
    public static func corrupt(
        _ ids: IndexTensor, maskable: (Int) -> Bool, maskID: Int, randomTokens: Range<Int>, probability: Double = 0.15,
        generator: RandomGenerator
    ) -> (inputs: IndexTensor, labels: IndexTensor) {
        var inputs = ids.values, labels = [Int](repeating: -100, count: ids.count)
        for position in 0..<ids.count where maskable(ids.values[position]) {
            guard Double(generator.uniform()) < probability else { continue }
            labels[position] = ids.values[position]
            let choice = generator.uniform()
            if choice < 0.8 {
                inputs[position] = maskID
            } else if choice < 0.9 {
                inputs[position] = randomTokens.lowerBound + Int(generator.next() % UInt64(randomTokens.count))
            }
        }
        return (IndexTensor(shape: ids.shape, values: inputs), IndexTensor(shape: ids.shape, values: labels))
    }
}
