import Foundation
import KibanData

/// One input to inference: an id, its text (a protein sequence, a sentence or a formula), and
/// where it came from, for error messages.
public struct InferenceRecord: Sendable, Equatable {
    public let id: String
    public let text: String
    /// "file:line" (FASTA header line, CSV row line) or "file:#index" (packed corpora).
    public let location: String
    /// Packed corpora: the token ids as packed (special tokens included); `text` is then empty.
    public let tokens: [Int]?

    public init(id: String, text: String, location: String, tokens: [Int]? = nil) {
        (self.id, self.text, self.location, self.tokens) = (id, text, location, tokens)
    }
}

/// A failure the user must fix, naming the file and the place in it.
public struct InferenceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where inputs come from: FASTA (`.fa`, `.faa`, `.fasta`), CSV (`.csv`), or a packed HDF5
/// corpus written by `kiban data pack` (`.h5`), read one record at a time.
public struct InputOptions: Sendable {
    /// CSV: the column holding ids (empty: the 1-based row number becomes the id).
    public var idColumn = "id"
    /// CSV: the column holding sequences (or formulas for composition models).
    public var textColumn = "sequence"
    /// FASTA residues outside the alphabet: rejected with their line, or mapped to X.
    public var residuePolicy = ResiduePolicy.reject

    public init(idColumn: String = "id", textColumn: String = "sequence", residuePolicy: ResiduePolicy = .reject) {
        (self.idColumn, self.textColumn, self.residuePolicy) = (idColumn, textColumn, residuePolicy)
    }
}

/// Reads an input file record by record; duplicate ids are an error naming both places.
public final class InferenceInputReader {
    public let path: String
    private let nextRecord: () throws -> InferenceRecord?
    private var seen: [String: String] = [:]

    public init(path: String, options: InputOptions = InputOptions()) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw InferenceError("\(path): no such input file") }
        let lowered = path.lowercased()
        if [".fa", ".faa", ".fasta", ".fas"].contains(where: lowered.hasSuffix) {
            let reader = try FASTAReader(path: path, policy: options.residuePolicy)
            nextRecord = {
                guard let record = try reader.next() else { return nil }
                let id = record.header.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                guard !id.isEmpty else { throw InferenceError("\(path):\(record.line): the header has no id") }
                return InferenceRecord(id: id, text: record.sequence, location: "\(path):\(record.line)")
            }
        } else if lowered.hasSuffix(".csv") {
            let useIDs = !options.idColumn.isEmpty
            let reader = try CSVRowReader(path: path, requiredColumns: [options.textColumn] + (useIDs ? [options.idColumn] : []))
            var row = 0
            nextRecord = {
                guard let fields = try reader.next() else { return nil }
                row += 1
                let id = useIDs ? fields[options.idColumn]! : String(row)
                guard !id.isEmpty else { throw InferenceError("\(path):\(fields.line): column '\(options.idColumn)' is empty") }
                let text = fields[options.textColumn]!
                guard !text.isEmpty else { throw InferenceError("\(path):\(fields.line): column '\(options.textColumn)' is empty (id '\(id)')") }
                return InferenceRecord(id: id, text: text, location: "\(path):\(fields.line)")
            }
        } else if lowered.hasSuffix(".h5") || lowered.hasSuffix(".hdf5") {
            let corpus = try PackedCorpus(path: path)
            var index = 0
            nextRecord = {
                guard index < corpus.count else { return nil }
                defer { index += 1 }
                return InferenceRecord(id: String(index), text: "", location: "\(path):#\(index)", tokens: try corpus.tokens(of: index))
            }
        } else {
            throw InferenceError("\(path): unknown input format (expected .fasta/.fa/.faa, .csv or a packed .h5 corpus)")
        }
    }

    /// The next record, or nil at the end. Throws on a repeated id.
    public func next() throws -> InferenceRecord? {
        guard let record = try nextRecord() else { return nil }
        if let first = seen[record.id] {
            throw InferenceError("\(record.location): id '\(record.id)' repeats the id at \(first); ids must be unique")
        }
        seen[record.id] = record.location
        return record
    }

    /// The number of records in `path`, by one cheap pass (for the progress display).
    public static func count(path: String, options: InputOptions = InputOptions()) throws -> Int {
        let reader = try InferenceInputReader(path: path, options: options)
        var count = 0
        while try reader.next() != nil { count += 1 }
        return count
    }
}
