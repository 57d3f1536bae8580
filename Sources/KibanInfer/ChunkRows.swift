import Foundation

/// The output rows computed for (part of) one chunk of records, by the record's position in the
/// chunk. Under `mpirun` each rank computes the rows of its positions; the ranks exchange them as
/// bytes (``encoded()``, ``init(decoding:)``) and rank 0 writes them in input order.
struct ChunkRows {
    typealias TableRow = (id: String, values: [TableWriter.Value])

    var embeddings: [Int: SequenceEmbeddings] = [:]
    var predictions: [Int: TableRow] = [:]
    /// Scores: one row per record, or one per variant.
    var scores: [Int: [TableRow]] = [:]

    /// Adds another rank's rows (positions never overlap).
    mutating func merge(_ other: ChunkRows) {
        embeddings.merge(other.embeddings) { $1 }
        predictions.merge(other.predictions) { $1 }
        scores.merge(other.scores) { $1 }
    }

    // MARK: Bytes

    func encoded() -> [UInt8] {
        var out = ByteWriter()
        out.int(embeddings.count)
        for (position, sequence) in embeddings.sorted(by: { $0.key < $1.key }) {
            out.int(position)
            out.string(sequence.id)
            out.int(sequence.length)
            out.int(sequence.values.count)
            for (key, values) in sequence.values.sorted(by: { $0.key < $1.key }) {
                out.int(key.layer)
                out.string(key.kind.rawValue)
                out.floats(values)
            }
        }
        out.int(predictions.count)
        for (position, row) in predictions.sorted(by: { $0.key < $1.key }) {
            out.int(position)
            out.row(row)
        }
        out.int(scores.count)
        for (position, rows) in scores.sorted(by: { $0.key < $1.key }) {
            out.int(position)
            out.int(rows.count)
            for row in rows { out.row(row) }
        }
        return out.bytes
    }

    init() {}

    init(decoding bytes: [UInt8]) throws {
        var input = ByteReader(bytes: bytes)
        for _ in 0..<(try input.int()) {
            let position = try input.int()
            let id = try input.string(), length = try input.int()
            var values: [EmbeddingKey: [Float]] = [:]
            for _ in 0..<(try input.int()) {
                let layer = try input.int()
                guard let kind = EmbeddingKind(rawValue: try input.string()) else { throw InferenceError("rows from another rank: unknown embedding kind") }
                values[EmbeddingKey(layer: layer, kind: kind)] = try input.floats()
            }
            embeddings[position] = SequenceEmbeddings(id: id, length: length, values: values)
        }
        for _ in 0..<(try input.int()) { predictions[try input.int()] = try input.row() }
        for _ in 0..<(try input.int()) {
            let position = try input.int()
            scores[position] = try (0..<(try input.int())).map { _ in try input.row() }
        }
    }
}

/// Integers, strings, floats and table values as bytes in the host's order (every rank of a run
/// is the same build on the same kind of machine).
private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int(_ value: Int) { withUnsafeBytes(of: Int64(value)) { bytes += $0 } }
    mutating func double(_ value: Double) { withUnsafeBytes(of: value) { bytes += $0 } }

    mutating func string(_ value: String) {
        int(value.utf8.count)
        bytes += value.utf8
    }

    mutating func floats(_ values: [Float]) {
        int(values.count)
        values.withUnsafeBytes { bytes += $0 }
    }

    mutating func row(_ row: ChunkRows.TableRow) {
        string(row.id)
        int(row.values.count)
        for value in row.values {
            switch value {
            case .text(let text): bytes.append(0); string(text)
            case .number(let number): bytes.append(1); double(number)
            case .float(let float): bytes.append(2); double(Double(float))
            case .integer(let integer): bytes.append(3); int(integer)
            }
        }
    }
}

/// Reads what `ByteWriter` wrote; running past the end is an error, not a crash.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= bytes.count else { throw InferenceError("rows from another rank end early") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    private mutating func value<Value>(_ type: Value.Type) throws -> Value {
        let raw = try take(MemoryLayout<Value>.size)
        return raw.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }

    mutating func int() throws -> Int { Int(try value(Int64.self)) }
    mutating func double() throws -> Double { try value(Double.self) }
    mutating func string() throws -> String { String(decoding: try take(try int()), as: UTF8.self) }

    mutating func floats() throws -> [Float] {
        let count = try int()
        let raw = try take(count * MemoryLayout<Float>.size)
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { $0.copyBytes(from: raw) }
        return values
    }

    mutating func row() throws -> ChunkRows.TableRow {
        let id = try string()
        let values = try (0..<(try int())).map { _ -> TableWriter.Value in
            switch try take(1).first! {
            case 0: .text(try string())
            case 1: .number(try double())
            case 2: .float(Float(try double()))
            case 3: .integer(try int())
            default: throw InferenceError("rows from another rank: unknown value tag")
            }
        }
        return (id, values)
    }
}
