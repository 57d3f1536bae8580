import Foundation

/// Where embeddings go: an HDF5 file or a folder of `.npy` arrays.
protocol EmbeddingSink: AnyObject {
    var existingIDs: [String] { get }
    func append(_ sequences: [SequenceEmbeddings]) throws
    func close() throws
}

extension HDF5EmbeddingWriter: EmbeddingSink {}

/// Writes embeddings as a folder of NumPy arrays, for users without h5py:
///
/// ```
/// ids.txt                  one id per line, in input order
/// lengths.npy              int64 (N)
/// layer_<k>_mean.npy       float32 (N, C)        (and _bos)
/// layer_<k>_per_tok.npy    float32 (ΣL, C), with offsets.npy int64 (N + 1)
/// sentence.npy             float32 (N, C)
/// ```
/// Each array's header is rewritten with its final row count when the run ends; `np.load` reads
/// them directly. An interrupted run leaves arrays whose headers do not match their data, so
/// `--resume` is refused for this format (use an `.h5` file to resume).
final class NPYEmbeddingWriter: EmbeddingSink {
    let folder: URL
    let keys: [EmbeddingKey]
    let width: Int
    let existingIDs: [String] = []
    private var arrays: [String: (handle: FileHandle, rows: Int, columns: Int?, type: String)] = [:]
    private let ids: FileHandle
    private var tokenRows = 0
    /// Bytes reserved for every header, so that the final shape always fits.
    static let headerSize = 128

    init(folder: String, keys: [EmbeddingKey], width: Int) throws {
        self.folder = URL(fileURLWithPath: folder)
        (self.keys, self.width) = (keys.sorted(), width)
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        ids = try Self.create(self.folder.appendingPathComponent("ids.txt"))
        try open("lengths", columns: nil, type: "<i8")
        for key in self.keys { try open(Self.stem(key), columns: width, type: "<f4") }
        if keys.contains(where: { $0.kind == .perToken }) {
            try open("offsets", columns: nil, type: "<i8")
            try write([Int64(0)], to: "offsets", rows: 1)
        }
    }

    static func stem(_ key: EmbeddingKey) -> String { key.name.replacingOccurrences(of: "/", with: "_") }

    func append(_ sequences: [SequenceEmbeddings]) throws {
        guard !sequences.isEmpty else { return }
        for key in keys {
            let rows = key.kind == .perToken ? sequences.map(\.length).reduce(0, +) : sequences.count
            try write(sequences.flatMap { $0.values[key]! }, to: Self.stem(key), rows: rows)
        }
        try write(sequences.map { Int64($0.length) }, to: "lengths", rows: sequences.count)
        if keys.contains(where: { $0.kind == .perToken }) {
            let offsets = sequences.map { sequence -> Int64 in
                tokenRows += sequence.length
                return Int64(tokenRows)
            }
            try write(offsets, to: "offsets", rows: offsets.count)
        }
        try ids.write(contentsOf: Data(sequences.map { $0.id + "\n" }.joined().utf8))
    }

    /// Rewrites every header with its final shape.
    func close() throws {
        for array in arrays.values {
            try array.handle.seek(toOffset: 0)
            try array.handle.write(contentsOf: Self.header(type: array.type, rows: array.rows, columns: array.columns))
            try array.handle.close()
        }
        try ids.close()
        arrays = [:]
    }

    private func open(_ stem: String, columns: Int?, type: String) throws {
        let handle = try Self.create(folder.appendingPathComponent(stem + ".npy"))
        try handle.write(contentsOf: Self.header(type: type, rows: 0, columns: columns))
        arrays[stem] = (handle, 0, columns, type)
    }

    private func write<Value>(_ values: [Value], to stem: String, rows: Int) throws {
        try values.withUnsafeBytes { try arrays[stem]!.handle.write(contentsOf: Data($0)) }
        arrays[stem]!.rows += rows
    }

    private static func create(_ url: URL) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw InferenceError("\(url.path): cannot create the file")
        }
        return try FileHandle(forWritingTo: url)
    }

    /// A version-1.0 `.npy` header padded with spaces to ``headerSize`` bytes.
    static func header(type: String, rows: Int, columns: Int?) -> Data {
        let shape = columns.map { "(\(rows), \($0))" } ?? "(\(rows),)"
        var text = "{'descr': '\(type)', 'fortran_order': False, 'shape': \(shape), }"
        text += String(repeating: " ", count: headerSize - 10 - text.utf8.count - 1) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(text.utf8.count)
        data += [UInt8(length & 0xFF), UInt8(length >> 8)]
        data += Data(text.utf8)
        return data
    }
}
