import Foundation

/// A results table (predictions or scores) written row by row as CSV or JSON Lines (by the file's
/// extension: `.jsonl` / `.json` → JSON Lines, otherwise CSV). The first column is always `id`.
///
/// Rows are appended and flushed after every chunk. On resume the ids already in the file are read
/// back and a last line cut off by an interruption is removed, so nothing written is lost.
public final class TableWriter {
    public let path: String
    public let columns: [String]
    let json: Bool
    private let handle: FileHandle
    /// Ids already in the file (resume).
    public private(set) var existingIDs: [String] = []

    public init(path: String, columns: [String], resume: Bool) throws {
        self.path = path
        self.columns = ["id"] + columns
        let json = path.lowercased().hasSuffix(".jsonl") || path.lowercased().hasSuffix(".json")
        self.json = json
        let allColumns = ["id"] + columns
        let manager = FileManager.default
        if resume && manager.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
            var lines = complete.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            if !json {
                guard let header = lines.first else { throw InferenceError("\(path): empty; cannot resume (delete it)") }
                guard header == allColumns.map(TableWriter.csvField).joined(separator: ",") else {
                    throw InferenceError("\(path): its header '\(header)' is not this run's '\(allColumns.joined(separator: ","))'; cannot resume")
                }
                lines.removeFirst()
            }
            existingIDs = try lines.enumerated().map { index, line in
                guard let id = json ? TableWriter.jsonID(line) : TableWriter.firstCSVField(line) else {
                    throw InferenceError("\(path):\(index + (json ? 1 : 2)): cannot read the id of this line; cannot resume")
                }
                return id
            }
            try Data(complete.utf8).write(to: URL(fileURLWithPath: path))
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            return
        }
        let header = json ? "" : allColumns.map(TableWriter.csvField).joined(separator: ",") + "\n"
        try Data(header.utf8).write(to: URL(fileURLWithPath: path))
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    /// A value of a row: text, or a number written with 9 significant digits (float32 round-trips).
    public enum Value {
        case text(String)
        case number(Double)
        case float(Float)
        case integer(Int)
    }

    /// Appends rows (each: the id, then one value per column) and flushes.
    public func append(_ rows: [(id: String, values: [Value])]) throws {
        var text = ""
        for row in rows {
            precondition(row.values.count == columns.count - 1, "a row needs one value per column")
            if json {
                let fields = zip(columns, [Value.text(row.id)] + row.values).map { "\(TableWriter.jsonString($0)): \(TableWriter.jsonValue($1))" }
                text += "{" + fields.joined(separator: ", ") + "}\n"
            } else {
                text += ([TableWriter.csvField(row.id)] + row.values.map { TableWriter.csvField(TableWriter.plain($0)) }).joined(separator: ",") + "\n"
            }
        }
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }

    public func close() { try? handle.close() }

    // MARK: Formatting

    static func plain(_ value: Value) -> String {
        switch value {
        case .text(let text): text
        case .number(let number): number.isFinite ? String(format: "%.9g", number) : "\(number)"
        case .float(let number): number.isFinite ? String(format: "%.9g", Double(number)) : "\(number)"
        case .integer(let number): String(number)
        }
    }

    static func jsonValue(_ value: Value) -> String {
        switch value {
        case .text(let text): jsonString(text)
        case .number, .float: plain(value).contains(where: { $0.isLetter && $0 != "e" }) ? "null" : plain(value)
        case .integer(let number): String(number)
        }
    }

    /// `text` as one CSV field: quoted (with doubled quotes) when it holds a comma, quote or line break.
    public static func csvField(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func jsonString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    static func firstCSVField(_ line: String) -> String? {
        guard line.first == "\"" else { return String(line.prefix { $0 != "," }) }
        var field = "", index = line.index(after: line.startIndex)
        while index < line.endIndex {
            let character = line[index]
            index = line.index(after: index)
            if character == "\"" {
                guard index < line.endIndex, line[index] == "\"" else { return field }
                index = line.index(after: index)
            }
            field.append(character)
        }
        return nil
    }

    static func jsonID(_ line: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object["id"] as? String
    }
}
