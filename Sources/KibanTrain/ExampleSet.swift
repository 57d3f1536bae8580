import Foundation
import KibanData

/// The examples of one split: held in memory (CSV and FASTA files), or a packed HDF5 corpus
/// (`kiban data pack`) whose sequences are read by offset only when a micro-batch needs them, so
/// a corpus larger than memory trains in bounded memory and each rank reads only its own batches.
public struct ExampleSet: ExpressibleByArrayLiteral {
    private enum Source {
        case memory([Example])
        case packed(PackedCorpus, indices: [Int], truncation: Int?)
    }

    private let source: Source

    /// Examples held in memory.
    public init(_ examples: [Example]) {
        source = .memory(examples)
    }

    public init(arrayLiteral examples: Example...) {
        self.init(examples)
    }

    /// The sequences `indices` of `corpus`, read when asked for; with a `truncation`, protein
    /// sequences longer than it keep their first tokens and end in `<eos>` (as the tokenizer truncates).
    public init(corpus: PackedCorpus, indices: [Int], truncation: Int? = nil) {
        source = .packed(corpus, indices: indices, truncation: truncation)
    }

    public var count: Int {
        switch source {
        case .memory(let examples): examples.count
        case .packed(_, let indices, _): indices.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Tokens in example `index` (special tokens included), without reading it.
    public func length(of index: Int) -> Int {
        switch source {
        case .memory(let examples): examples[index].tokens.count
        case .packed(let corpus, let indices, let truncation): min(corpus.length(of: indices[index]), truncation ?? .max)
        }
    }

    /// The examples at `positions` (for a packed corpus: one read per sequence).
    public func examples(at positions: [Int]) throws -> [Example] {
        switch source {
        case .memory(let examples):
            return positions.map { examples[$0] }
        case .packed(let corpus, let indices, let truncation):
            return try positions.map {
                var example = try corpus.example(indices[$0])
                if let truncation, example.tokens.count > truncation {
                    example.tokens = Array(example.tokens.prefix(truncation - 1)) + [ProteinAlphabet.eos]
                }
                return example
            }
        }
    }

    /// Every example (a packed corpus is read whole: for small splits such as validation).
    public func all() throws -> [Example] {
        try examples(at: Array(0..<count))
    }

    /// The examples held in memory, each changed by `transform`; a packed corpus cannot be changed.
    func mapped(_ transform: (Example) throws -> Example) throws -> ExampleSet {
        guard case .memory(let examples) = source else {
            throw ConfigTree.ConfigError("a packed corpus cannot take computed descriptors (adapter.descriptors); train from the CSV")
        }
        return ExampleSet(try examples.map(transform))
    }

    /// Every example's regression target, without reading tokens.
    public var targets: [Float] {
        switch source {
        case .memory(let examples): examples.map(\.target)
        case .packed(let corpus, let indices, _): indices.map { corpus.targets?[$0] ?? 0 }
        }
    }

    /// Every example's class labels: the sequence label, or the token labels of token
    /// classification (−100 where ignored), without reading tokens.
    public var labels: [[Int]] {
        switch source {
        case .memory(let examples): examples.map { $0.tokenLabels.isEmpty ? [$0.label] : $0.tokenLabels }
        case .packed(let corpus, let indices, _): indices.map { [corpus.labels?[$0] ?? 0] }
        }
    }
}
