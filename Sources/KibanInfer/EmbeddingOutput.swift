import Foundation
import KibanFormats

/// Which embeddings to write, fair-esm's `--include`.
public enum EmbeddingKind: String, Sendable, CaseIterable {
    /// The mean over the sequence's tokens, special tokens excluded (esm-extract's `mean`).
    case mean
    /// Every token's state, special tokens excluded (`per_tok`).
    case perToken = "per_tok"
    /// The first token's state (`bos`; BERT's [CLS]).
    case bos
    /// Sentence-transformers folders: the embedding the folder prescribes (its pooling, special
    /// tokens included, and its normalisation), equal to `SentenceTransformer.encode`.
    case sentence
}

/// One sequence's embeddings: for each (layer, kind), a row of C floats (n × C for `per_tok`).
public struct SequenceEmbeddings {
    public let id: String
    /// Tokens without the two special ones (the rows of `per_tok`).
    public let length: Int
    public var values: [EmbeddingKey: [Float]]
}

/// A dataset of the embeddings output.
public struct EmbeddingKey: Hashable, Sendable, Comparable {
    public let layer: Int
    public let kind: EmbeddingKind
    /// HDF5 dataset path / npy file stem: `layer_6/mean`, `sentence`.
    public var name: String { kind == .sentence ? "sentence" : "layer_\(layer)/\(kind.rawValue)" }

    public static func < (a: EmbeddingKey, b: EmbeddingKey) -> Bool { (a.layer, a.kind.rawValue) < (b.layer, b.kind.rawValue) }
}

/// Writes embeddings as HDF5, appending as inference goes:
///
/// ```
/// /ids                  string (N), UTF-8, in input order     f["ids"].asstr()[:]
/// /lengths              int64 (N): tokens per sequence, special tokens excluded
/// /layer_<k>/mean       float32 (N, C)
/// /layer_<k>/bos        float32 (N, C)
/// /layer_<k>/per_tok    float32 (ΣL, C): sequence i is rows offsets[i] ..< offsets[i + 1]
/// /offsets              int64 (N + 1), present with per_tok
/// /sentence             float32 (N, C), sentence-transformers folders
/// attributes: model, weights_sha256, kiban_version, layers, include, long_policy, max_tokens
/// ```
/// k is the layer's non-negative number (0 = embeddings, the last = the model's output). Rows are
/// flushed after every chunk, so an interrupted run keeps what it wrote and `--resume` goes on.
public final class HDF5EmbeddingWriter {
    public let path: String
    let file: HDF5File
    let keys: [EmbeddingKey]
    /// Ids already in the file (resume).
    public private(set) var existingIDs: [String] = []
    private var tokenRows = 0

    public init(path: String, keys: [EmbeddingKey], width: Int, attributes: [String: String], resume: Bool) throws {
        self.path = path
        self.keys = keys.sorted()
        let perToken = keys.contains { $0.kind == .perToken }
        if resume && FileManager.default.fileExists(atPath: path) {
            file = try HDF5File(path: path, mode: .readWrite)
            for key in self.keys where !file.exists("/" + key.name) {
                throw InferenceError("\(path): has no dataset '\(key.name)' to resume (written with other --layers/--include)")
            }
            existingIDs = try file.readStrings("/ids")
            let count = existingIDs.count
            try file.truncate("/lengths", toRows: count)
            for key in self.keys where key.kind != .perToken { try file.truncate("/" + key.name, toRows: count) }
            if perToken {
                try file.truncate("/offsets", toRows: count + 1)
                tokenRows = Int(try file.readInts("/offsets", rows: count..<(count + 1))[0])
                for key in self.keys where key.kind == .perToken { try file.truncate("/" + key.name, toRows: tokenRows) }
            }
            return
        }
        let temporary = path + ".partial-\(getpid())"
        file = try HDF5File(path: temporary, mode: .create)
        try file.createAppendableStrings("/ids")
        try file.createAppendable("/lengths", integer: true, chunk: 4096)
        for key in self.keys {
            try file.createAppendable("/" + key.name, integer: false, rowShape: [width], chunk: max(1, (1 << 16) / width))
        }
        if perToken {
            try file.createAppendable("/offsets", integer: true, chunk: 4096)
            try file.append([Int64(0)], to: "/offsets")
        }
        for (name, value) in attributes { try file.setAttribute(name, value) }
        try file.flush()
        guard rename(temporary, path) == 0 else { throw InferenceError("\(path): cannot create (\(String(cString: strerror(errno))))") }
    }

    /// Appends sequences in order; ids go last, so a partial append is undone on resume.
    public func append(_ sequences: [SequenceEmbeddings]) throws {
        guard !sequences.isEmpty else { return }
        for key in keys { try file.append(sequences.flatMap { $0.values[key]! }, to: "/" + key.name) }
        try file.append(sequences.map { Int64($0.length) }, to: "/lengths")
        if keys.contains(where: { $0.kind == .perToken }) {
            var offsets: [Int64] = []
            for sequence in sequences {
                tokenRows += sequence.length
                offsets.append(Int64(tokenRows))
            }
            try file.append(offsets, to: "/offsets")
        }
        try file.append(strings: sequences.map(\.id), to: "/ids")
        try file.flush()
    }

    public func close() throws { file.close() }
}
