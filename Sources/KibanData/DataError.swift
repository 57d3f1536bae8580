/// An error found while reading scientific data: a FASTA file, a CSV table or a chemical formula.
///
/// Every reader in KibanData throws this one type, and every instance says where the problem is:
/// the file (the path as it was given to the reader, or a placeholder such as `<formula>` for text
/// that came from no file), the 1-based line when one applies, and the column or key when one applies.
///
/// ```
/// proteome.faa:12: residue 'J' is not allowed (policy: reject)
/// expt_gap.csv:88: column 'target': value 'n/a' is not a number
/// ```
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file being read, as given to the reader (or a placeholder such as `<formula>`).
    public let file: String
    /// The 1-based line the problem is on, when the problem has a line.
    public let line: Int?
    /// The column name or key involved, when one is.
    public let column: String?
    /// What is wrong, in words.
    public let message: String

    /// Creates an error located at `file`, optionally at a `line` and a `column`.
    public init(file: String, line: Int? = nil, column: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line: column 'name': message`, leaving out the parts that are `nil`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let column { text += "column '\(column)': " }
        return text + message
    }
}
