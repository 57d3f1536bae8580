/// Reads a CSV file (the dialect of ``CSVTable``) one row at a time in bounded memory, for inputs
/// too large to hold: 64 KiB chunks, a record of several lines only while a quoted field is open.
///
/// ```swift
/// let reader = try CSVRowReader(path: "variants.csv", requiredColumns: ["id", "sequence"])
/// while let row = try reader.next() { print(row.line, row["sequence"]!) }
/// ```
public final class CSVRowReader {
    /// One data row: its fields by column name and the line it starts on.
    public struct Row: Sendable {
        public let fields: [String: String]
        public let line: Int
        public subscript(column: String) -> String? { fields[column] }
    }

    public let path: String
    /// The header's column names, in file order.
    public let columnNames: [String]
    private var lines: ChunkedLineReader

    /// Opens `path`, reads its header and checks that every column in `requiredColumns` is present.
    public init(path: String, requiredColumns: [String] = []) throws {
        self.path = path
        lines = try ChunkedLineReader(path: path)
        var header: [String]?
        while header == nil, let record = try Self.nextRecord(&lines, path: path) { header = record.fields }
        guard let header else { throw DataError(file: path, line: 1, message: "the file is empty: no header row") }
        columnNames = header
        for column in requiredColumns where !header.contains(column) {
            let present = header.map { "'\($0)'" }.joined(separator: ", ")
            throw DataError(file: path, line: 1, column: column, message: "no such column; the columns are \(present)")
        }
    }

    /// The next data row, or `nil` at the end of the file.
    public func next() throws -> Row? {
        guard let record = try Self.nextRecord(&lines, path: path) else { return nil }
        guard record.fields.count == columnNames.count else {
            throw DataError(file: path, line: record.line,
                            message: "expected \(columnNames.count) fields as in the header, found \(record.fields.count)")
        }
        return Row(fields: Dictionary(zip(columnNames, record.fields), uniquingKeysWith: { first, _ in first }), line: record.line)
    }

    /// The next non-empty record: lines joined while an odd number of quotes leaves a field open.
    private static func nextRecord(_ lines: inout ChunkedLineReader, path: String) throws -> (fields: [String], line: Int)? {
        var bytes: [UInt8] = [], firstLine = 0, quotes = 0
        while let line = try lines.nextLine() {
            if bytes.isEmpty {
                if line.allSatisfy({ $0 == UInt8(ascii: "\r") }) && quotes == 0 { continue }
                firstLine = lines.lineNumber
            } else {
                bytes.append(UInt8(ascii: "\n"))
            }
            bytes += line
            quotes += line.lazy.filter { $0 == UInt8(ascii: "\"") }.count
            if quotes % 2 == 0 { break }
        }
        guard !bytes.isEmpty else { return nil }
        var parser = CSVParser(bytes: bytes, file: path, firstLine: firstLine)
        guard let row = try parser.nextRow() else { return nil }
        return (row.fields, firstLine)
    }
}
