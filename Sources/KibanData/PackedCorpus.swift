import Foundation
import KibanFormats

/// A tokenized corpus in HDF5, as `kiban data pack` writes it:
///
/// ```
/// /tokens     int64 (total tokens)     every sequence's token ids, concatenated
/// /offsets    int64 (N + 1)            sequence i is tokens[offsets[i] ..< offsets[i+1]]
/// /fractions  float32 (total tokens)   composition corpora: each element token's fraction
/// /labels     int64 (N)                optional class labels
/// /targets    float32 (N)              optional regression targets
/// /split      int64 (N)                optional: 0 train, 1 validation, 2 test
/// attributes: kind ("protein" | "composition"), tokenizer, source, source_sha256
/// ```
/// Opening reads only the offsets (and labels); tokens are read per sequence by hyperslab, so a
/// corpus larger than memory can be iterated.
public final class PackedCorpus {
    public enum Split: Int, Sendable, CaseIterable { case train = 0, validation = 1, test = 2 }

    public let path: String
    public let kind: String
    let file: HDF5File
    let offsets: [Int64]
    /// Class labels, one per sequence, if the corpus has them.
    public let labels: [Int]?
    /// Regression targets, one per sequence, if the corpus has them.
    public let targets: [Float]?
    let splits: [Int]?

    public init(path: String) throws {
        self.path = path
        file = try HDF5File(path: path, mode: .read)
        kind = try file.stringAttribute("kind")
        offsets = try file.readInts("/offsets").values
        guard let last = offsets.last, offsets.first == 0, try file.shape(of: "/tokens") == [Int(last)] else {
            throw HDF5Error(path: path, message: "offsets do not match the token count (not a packed corpus?)")
        }
        labels = file.exists("/labels") ? try file.readInts("/labels").values.map { Int($0) } : nil
        targets = file.exists("/targets") ? try file.readFloats("/targets").values : nil
        splits = file.exists("/split") ? try file.readInts("/split").values.map { Int($0) } : nil
    }

    /// Number of sequences.
    public var count: Int { offsets.count - 1 }

    /// Tokens in sequence `index`.
    public func length(of index: Int) -> Int { Int(offsets[index + 1] - offsets[index]) }

    /// The token ids of one sequence (one hyperslab read).
    public func tokens(of index: Int) throws -> [Int] {
        try file.readInts("/tokens", rows: Int(offsets[index])..<Int(offsets[index + 1])).map { Int($0) }
    }

    /// The element fractions of one formula (composition corpora).
    public func fractions(of index: Int) throws -> [Float] {
        try file.readFloats("/fractions", rows: Int(offsets[index])..<Int(offsets[index + 1]))
    }

    /// Sequence `index` as an example: its tokens, fractions (composition corpora), label and
    /// target. Token ids outside the corpus kind's range (ESM's 33 tokens, atomic numbers 1–118)
    /// are an error naming the file and the sequence.
    public func example(_ index: Int) throws -> Example {
        let tokens = try tokens(of: index)
        let valid = kind == "composition" ? 1...118 : 0...(ProteinAlphabet.count - 1)
        if let bad = tokens.first(where: { !valid.contains($0) }) {
            throw DataError(file: path, message: "sequence \(index): token id \(bad) is outside \(valid) for a \(kind) corpus")
        }
        return Example(
            tokens: tokens, fractions: kind == "composition" ? try fractions(of: index) : [],
            label: labels?[index] ?? 0, target: targets?[index] ?? 0)
    }

    /// Whether the corpus has a `/split` dataset.
    public var hasSplits: Bool { splits != nil }

    /// Indices of the sequences in `split` (all sequences when the corpus has no split column).
    public func indices(in split: Split?) -> [Int] {
        guard let split, let splits else { return Array(0..<count) }
        return splits.indices.filter { splits[$0] == split.rawValue }
    }
}
