import Foundation

/// One record of a protein FASTA file.
public struct FASTARecord: Equatable, Sendable {
    /// The header line without its `>` and without surrounding whitespace
    /// (for example `sp|P69905|HBA_HUMAN Hemoglobin subunit alpha`).
    public let header: String
    /// The residues in upper case, joined across lines, without whitespace or a final `*`.
    public let sequence: String
    /// The 1-based line of the header in the file.
    public let line: Int

    /// Creates a record.
    public init(header: String, sequence: String, line: Int) {
        self.header = header
        self.sequence = sequence
        self.line = line
    }
}

/// What ``FASTAReader`` does with a residue outside the accepted alphabet.
///
/// Always accepted: the 20 standard amino acids `ACDEFGHIKLMNPQRSTVWY`, `X` (unknown), and the
/// ambiguous or rare codes `B` (Asx), `Z` (Glx), `U` (selenocysteine) and `O` (pyrrolysine), kept as
/// themselves. Lower case is upper-cased first; whitespace is ignored; one `*` at the very end of a
/// record is a stop codon and is dropped. Anything else (digits, `J`, `-`, `.`, a `*` followed by
/// more residues, non-ASCII) is handled by the policy.
public enum ResiduePolicy: Sendable {
    /// Throw a ``DataError`` naming the file and line of the first such residue.
    case reject
    /// Replace each such residue (one per character, even a multi-byte one) with `X`.
    case mapToUnknown
}

/// Reads protein FASTA files one record at a time, in bounded memory.
///
/// The file is read in 64 KiB chunks and split into lines here (`\n` or `\r\n`), so memory holds one
/// chunk plus the record being built, never the whole file. Blank lines are ignored everywhere. Errors
/// (all ``DataError``, naming the file and line): sequence data before the first header, a header with
/// no residues (named by the header's line), a residue the ``ResiduePolicy`` rejects, and a file with
/// no records at all. After an error the reader returns `nil`.
///
/// ```swift
/// let reader = try FASTAReader(path: "proteome.faa")
/// while let record = try reader.next() { print(record.header, record.sequence.count) }
/// ```
public final class FASTAReader {
    /// The path being read, as given.
    public let path: String
    /// How residues outside the accepted alphabet are handled.
    public let policy: ResiduePolicy

    private var lines: ChunkedLineReader
    private var header: (text: String, line: Int)?
    private var residues: [UInt8] = []
    /// The line of a `*` not yet known to be the final one of its record.
    private var pendingStopLine: Int?
    private var recordCount = 0
    private var finished = false

    /// Opens `path` for reading; throws ``DataError`` if it cannot be opened.
    public init(path: String, policy: ResiduePolicy = .reject) throws {
        self.path = path
        self.policy = policy
        self.lines = try ChunkedLineReader(path: path)
    }

    /// Reads every record of `path` into memory.
    public static func readAll(path: String, policy: ResiduePolicy = .reject) throws -> [FASTARecord] {
        let reader = try FASTAReader(path: path, policy: policy)
        var records: [FASTARecord] = []
        while let record = try reader.next() { records.append(record) }
        return records
    }

    /// The next record, or `nil` at the end of the file.
    public func next() throws -> FASTARecord? {
        guard !finished else { return nil }
        do {
            let record = try readRecord()
            if record == nil { finished = true }
            return record
        } catch {
            finished = true
            throw error
        }
    }

    private func readRecord() throws -> FASTARecord? {
        while let line = try lines.nextLine() {
            let lineNumber = lines.lineNumber
            if line.first == UInt8(ascii: ">") {
                let text = String(decoding: trimmingWhitespace(line.dropFirst()), as: UTF8.self)
                let previous = header
                header = (text, lineNumber)
                if let previous { return try finishRecord(header: previous) }
            } else if header == nil {
                if trimmingWhitespace(line).isEmpty { continue }
                throw DataError(file: path, line: lineNumber, message: "sequence data before the first '>' header")
            } else {
                try appendResidues(line, lineNumber: lineNumber)
            }
        }
        if let last = header {
            header = nil
            return try finishRecord(header: last)
        }
        if recordCount == 0 {
            throw DataError(file: path, message: "the file is empty: no FASTA records")
        }
        return nil
    }

    private func finishRecord(header: (text: String, line: Int)) throws -> FASTARecord {
        pendingStopLine = nil  // a final '*' is a terminator: drop it
        guard !residues.isEmpty else {
            throw DataError(file: path, line: header.line, message: "header '>\(header.text)' has no sequence")
        }
        let record = FASTARecord(
            header: header.text, sequence: String(decoding: residues, as: UTF8.self), line: header.line)
        residues.removeAll(keepingCapacity: true)
        recordCount += 1
        return record
    }

    private func appendResidues(_ line: ArraySlice<UInt8>, lineNumber: Int) throws {
        var previousWasNonASCII = false
        for index in line.indices {
            let byte = line[index]
            if byte >= 0x80 {
                // A UTF-8 continuation byte belongs to the character already handled.
                if byte < 0xC0 && previousWasNonASCII { continue }
                previousWasNonASCII = true
                try appendStopIfPending()
                let character = String(decoding: line[index..<min(index + 4, line.endIndex)], as: UTF8.self)
                try appendDisallowed(describing: character.unicodeScalars.first!, lineNumber: lineNumber)
                continue
            }
            previousWasNonASCII = false
            switch FASTAReader.byteClass[Int(byte)] {
            case FASTAReader.whitespace:
                continue
            case FASTAReader.stop:
                try appendStopIfPending()
                pendingStopLine = lineNumber
            case FASTAReader.disallowed:
                try appendStopIfPending()
                try appendDisallowed(describing: Unicode.Scalar(byte), lineNumber: lineNumber)
            case let residue:
                try appendStopIfPending()
                residues.append(residue)
            }
        }
    }

    /// A `*` followed by more residues was not a terminator: the policy decides.
    private func appendStopIfPending() throws {
        guard let stopLine = pendingStopLine else { return }
        pendingStopLine = nil
        try appendDisallowed(describing: "*", lineNumber: stopLine, note: " before the end of the sequence")
    }

    private func appendDisallowed(describing scalar: Unicode.Scalar, lineNumber: Int, note: String = "") throws {
        switch policy {
        case .mapToUnknown:
            residues.append(UInt8(ascii: "X"))
        case .reject:
            let shown = (0x21...0x7E).contains(scalar.value)
                ? "'\(scalar)'" : "U+" + String(scalar.value, radix: 16, uppercase: true)
            throw DataError(
                file: path, line: lineNumber, message: "residue \(shown)\(note) is not allowed (policy: reject)")
        }
    }

    private func trimmingWhitespace(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in FASTAReader.byteClass[Int(byte)] == FASTAReader.whitespace }
        guard let first = bytes.firstIndex(where: { $0 >= 0x80 || !isSpace($0) }) else { return [] }
        let last = bytes.lastIndex(where: { $0 >= 0x80 || !isSpace($0) })!
        return bytes[first...last]
    }

    // Classes of ASCII bytes: an accepted residue maps to its upper-case byte, the rest to a marker.
    private static let disallowed: UInt8 = 0
    private static let whitespace: UInt8 = 1
    private static let stop: UInt8 = 2
    private static let byteClass: [UInt8] = {
        var table = [UInt8](repeating: disallowed, count: 128)
        for byte in " \t\r\n\u{0B}\u{0C}".utf8 { table[Int(byte)] = whitespace }
        table[Int(UInt8(ascii: "*"))] = stop
        for residue in "ACDEFGHIKLMNPQRSTVWYXBZUO".utf8 {
            table[Int(residue)] = residue
            table[Int(residue + 32)] = residue  // lower case
        }
        return table
    }()
}

/// Splits a file into lines while reading it in fixed-size chunks.
///
/// Lines end at `\n`; a `\r` before it is removed, and so is a UTF-8 byte-order mark at the start of
/// the file. The last line need not end with `\n`.
struct ChunkedLineReader {
    static let chunkSize = 64 * 1024

    private let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var lineStart = 0
    /// Where to resume looking for `\n`: the bytes between `lineStart` and here have none.
    private var scanStart = 0
    private var reachedEnd = false
    /// The 1-based number of the line most recently returned.
    private(set) var lineNumber = 0

    init(path: String) throws {
        self.path = path
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw DataError(file: path, message: "cannot open the file (\(error.localizedDescription))")
        }
    }

    /// The next line without its line ending, or `nil` after the last one.
    mutating func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[scanStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[lineStart..<newline]
                lineStart = newline + 1
                scanStart = lineStart
                return numbered(line)
            }
            scanStart = buffer.count
            if reachedEnd {
                guard lineStart < buffer.count else { return nil }
                let line = buffer[lineStart...]
                lineStart = buffer.count
                return numbered(line)
            }
            try refill()
        }
    }

    private mutating func numbered(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        lineNumber += 1
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if lineNumber == 1 && line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        return line
    }

    private mutating func refill() throws {
        buffer.removeSubrange(0..<lineStart)
        scanStart -= lineStart
        lineStart = 0
        let chunk: Data?
        do {
            chunk = try handle.read(upToCount: Self.chunkSize)
        } catch {
            throw DataError(file: path, line: lineNumber + 1, message: "read failed (\(error.localizedDescription))")
        }
        if let chunk, !chunk.isEmpty {
            buffer.append(contentsOf: chunk)
        } else {
            reachedEnd = true
            try? handle.close()
        }
    }
}
