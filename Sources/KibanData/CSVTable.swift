import Foundation

/// A small CSV table with a header row, read whole into memory and kept as columns of strings.
///
/// The format is RFC 4180: fields separated by `,`; a field in double quotes may hold commas, line
/// breaks and doubled quotes (`""` for one `"`); rows end with `\n` or `\r\n`, the last one optionally
/// not. A UTF-8 byte-order mark at the start is skipped, and empty lines are skipped. Every row must
/// have as many fields as the header. Values are not trimmed; ``doubles(_:)`` and ``integers(_:)``
/// ignore spaces around a number.
///
/// ```swift
/// let table = try CSVTable.read(path: "expt_gap.csv", requiredColumns: ["formula", "target"])
/// let gaps = try table.doubles("target")  // one per data row
/// ```
public struct CSVTable: Sendable {
    /// The file the table came from, as given (or the name passed to ``init(parsing:file:requiredColumns:)``).
    public let file: String
    /// The header's column names, in file order.
    public let columnNames: [String]
    /// The number of data rows (the header excluded).
    public var rowCount: Int { rowLines.count }

    /// `columns[c][r]`: the field of column `c` in data row `r`.
    private let columns: [[String]]
    private let columnIndex: [String: Int]
    private let headerLine: Int
    /// The 1-based line on which each data row starts.
    private let rowLines: [Int]

    /// Reads the CSV file at `path` and checks that every column in `requiredColumns` is present.
    public static func read(path: String, requiredColumns: [String] = []) throws -> CSVTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError(file: path, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try CSVTable(parsing: data, file: path, requiredColumns: requiredColumns)
    }

    /// Parses CSV text already in memory; `file` names it in errors.
    public init(parsing text: String, file: String = "<csv>", requiredColumns: [String] = []) throws {
        try self.init(parsing: Data(text.utf8), file: file, requiredColumns: requiredColumns)
    }

    private init(parsing data: Data, file: String, requiredColumns: [String]) throws {
        var parser = CSVParser(bytes: [UInt8](data), file: file)
        guard let header = try parser.nextRow() else {
            throw DataError(file: file, line: 1, message: "the file is empty: no header row")
        }
        var columnIndex: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            if columnIndex[name] != nil {
                throw DataError(
                    file: file, line: header.line, column: name, message: "the header names this column twice")
            }
            columnIndex[name] = index
        }
        var columns = [[String]](repeating: [], count: header.fields.count)
        var rowLines: [Int] = []
        while let row = try parser.nextRow() {
            guard row.fields.count == header.fields.count else {
                throw DataError(
                    file: file, line: row.line,
                    message: "expected \(header.fields.count) fields as in the header, found \(row.fields.count)")
            }
            for (index, field) in row.fields.enumerated() { columns[index].append(field) }
            rowLines.append(row.line)
        }
        self.file = file
        self.columnNames = header.fields
        self.columns = columns
        self.columnIndex = columnIndex
        self.headerLine = header.line
        self.rowLines = rowLines
        for name in requiredColumns { _ = try index(of: name) }
    }

    /// The fields of `column`, one per data row; throws if there is no such column.
    public func strings(_ column: String) throws -> [String] {
        columns[try index(of: column)]
    }

    /// The fields of `column` as finite numbers (`1`, `-2.5`, `3e-4`; spaces around are ignored).
    /// Throws naming the file, line and column of the first field that is not one.
    public func doubles(_ column: String) throws -> [Double] {
        try converted(column, to: "a finite number") { field in
            Double(field).flatMap { $0.isFinite ? $0 : nil }
        }
    }

    /// The fields of `column` as integers (`42`, `-7`; spaces around are ignored). Throws naming the
    /// file, line and column of the first field that is not one.
    public func integers(_ column: String) throws -> [Int] {
        try converted(column, to: "an integer") { Int($0) }
    }

    /// The 1-based line on which data row `row` starts (rows with quoted line breaks span several lines).
    public func line(ofRow row: Int) -> Int { rowLines[row] }

    private func converted<Value>(
        _ column: String, to kind: String, _ convert: (String) -> Value?
    ) throws -> [Value] {
        let fields = try strings(column)
        var values: [Value] = []
        values.reserveCapacity(fields.count)
        for (row, field) in fields.enumerated() {
            guard let value = convert(field.trimmingCharacters(in: .whitespaces)) else {
                throw DataError(
                    file: file, line: rowLines[row], column: column, message: "value '\(field)' is not \(kind)")
            }
            values.append(value)
        }
        return values
    }

    private func index(of column: String) throws -> Int {
        guard let index = columnIndex[column] else {
            let present = columnNames.map { "'\($0)'" }.joined(separator: ", ")
            throw DataError(
                file: file, line: headerLine, column: column, message: "no such column; the columns are \(present)")
        }
        return index
    }
}

/// Splits RFC 4180 text into rows of fields, tracking line numbers for error messages.
struct CSVParser {
    private let bytes: [UInt8]
    private let file: String
    private var position = 0
    /// The 1-based line `position` is on.
    private var line: Int

    /// A parser of `bytes`, whose first byte is on line `firstLine` of `file`.
    init(bytes: [UInt8], file: String, firstLine: Int = 1) {
        self.bytes = bytes
        self.file = file
        line = firstLine
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let newline = UInt8(ascii: "\n")

    /// The next non-empty row and the line it starts on, or `nil` at the end.
    mutating func nextRow() throws -> (fields: [String], line: Int)? {
        while position < bytes.count, isAtLineEnd() { consumeLineEnd() }
        guard position < bytes.count else { return nil }
        let rowLine = line
        var fields: [String] = []
        while true {
            fields.append(try nextField())
            if position >= bytes.count { break }
            if bytes[position] == Self.comma {
                position += 1
                continue
            }
            consumeLineEnd()
            break
        }
        return (fields, rowLine)
    }

    /// Reads one field and stops before the `,`, line end or end of text that follows it.
    private mutating func nextField() throws -> String {
        guard position < bytes.count, bytes[position] == Self.quote else {
            let start = position
            while position < bytes.count, bytes[position] != Self.comma, !isAtLineEnd() {
                if bytes[position] == Self.quote {
                    throw DataError(
                        file: file, line: line,
                        message: "a '\"' inside an unquoted field (quote the whole field and double the '\"')")
                }
                position += 1
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
        let openingLine = line
        position += 1
        var field: [UInt8] = []
        while true {
            guard position < bytes.count else {
                throw DataError(file: file, line: openingLine, message: "a quoted field is never closed")
            }
            let byte = bytes[position]
            position += 1
            if byte == Self.newline { line += 1 }
            guard byte == Self.quote else {
                field.append(byte)
                continue
            }
            if position < bytes.count, bytes[position] == Self.quote {
                field.append(Self.quote)
                position += 1
                continue
            }
            guard position >= bytes.count || bytes[position] == Self.comma || isAtLineEnd() else {
                throw DataError(
                    file: file, line: line, message: "unexpected text after the closing '\"' of a quoted field")
            }
            return String(decoding: field, as: UTF8.self)
        }
    }

    private func isAtLineEnd() -> Bool {
        let byte = bytes[position]
        return byte == Self.newline
            || (byte == Self.carriageReturn && position + 1 < bytes.count && bytes[position + 1] == Self.newline)
            || (byte == Self.carriageReturn && position + 1 == bytes.count)
    }

    private mutating func consumeLineEnd() {
        if bytes[position] == Self.carriageReturn { position += 1 }
        if position < bytes.count, bytes[position] == Self.newline { position += 1 }
        line += 1
    }
}
