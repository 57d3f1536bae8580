import KibanTensor

// Dim legend: B batch, T tokens, C hidden size, L labels.

/// How a sequence of hidden states becomes one vector.
public enum Pooling: String, Codable, Sendable {
    /// The first token's state (BERT's `[CLS]`, ESM's `<cls>`).
    case first
    /// The mean over non-padding tokens.
    case mean

    /// hidden: (B, T, C); mask: (B, T) of 1/0 or nil (all real) → (B, C).
    /// Mean pooling divides by the number of real tokens, so padding never changes the result.
    public func callAsFunction(_ hidden: Tensor, mask: Tensor?) -> Tensor {
        switch self {
        case .first:
            return hidden.sliced(axis: 1, 0..<1).squeezed(1)
        case .mean:
            guard let mask else { return hidden.mean(axes: [1]) }
            let weights = mask.unsqueezed(-1)
            return (hidden * weights).summed(axes: [1]) / weights.summed(axes: [1])
        }
    }

    /// hidden: (1, N, C), sequences packed back to back as `packing` says → (B, C), the pooling of
    /// each sequence alone (the first token's row, or the mean of its rows as one matrix product).
    public func callAsFunction(packed hidden: Tensor, packing: SequencePacking) -> Tensor {
        let rows = hidden.reshaped([packing.tokens, hidden.shape[hidden.rank - 1]])
        switch self {
        case .first:
            return rows.indexSelect(axis: 0, indices: IndexTensor(shape: [packing.count], values: (0..<packing.count).map { packing.range($0).lowerBound }))
        case .mean:
            let weights = Tensor.zeros([packing.count, packing.tokens])
            for index in 0..<packing.count {
                let tokens = packing.range(index)
                let share = 1 / Float(tokens.count)
                for token in tokens { weights.pointer[index * packing.tokens + token] = share }
            }
            return weights.matmul(rows)
        }
    }
}

/// Pooling, dropout and a linear layer: sequence classification (L classes) or regression (L = 1).
public final class SequenceHead: Module {
    public let pooling: Pooling
    public let dropout: Dropout
    public let projection: Linear

    public init(hiddenSize: Int, outputs: Int, pooling: Pooling, dropout: Float = 0.1, generator: RandomGenerator) {
        self.pooling = pooling
        self.dropout = Dropout(dropout, generator: generator)
        projection = Linear(hiddenSize, outputs, initialization: .normal(std: 0.02), generator: generator)
    }

    override public var children: [(key: String, module: Module)] { [("dropout", dropout), ("dense", projection)] }

    /// hidden: (B, T, C), mask: (B, T) → (B, L).
    public func callAsFunction(_ hidden: Tensor, mask: Tensor?) -> Tensor {
        projection(dropout(pooling(hidden, mask: mask)))
    }

    /// hidden: (1, N, C), B sequences packed without padding as `packing` says → (B, L).
    public func callAsFunction(packed hidden: Tensor, packing: SequencePacking) -> Tensor {
        projection(dropout(pooling(packed: hidden, packing: packing)))
    }
}

/// A linear layer on every token: per-residue or per-token classification (B, T, C) → (B, T, L).
public final class TokenClassificationHead: Module {
    public let dropout: Dropout
    public let projection: Linear

    public init(hiddenSize: Int, labels: Int, dropout: Float = 0.1, generator: RandomGenerator) {
        self.dropout = Dropout(dropout, generator: generator)
        projection = Linear(hiddenSize, labels, initialization: .normal(std: 0.02), generator: generator)
    }

    override public var children: [(key: String, module: Module)] { [("dropout", dropout), ("dense", projection)] }

    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        projection(dropout(hidden))
    }
}
