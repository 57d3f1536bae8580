import Foundation

/// Magpie-style statistics of a composition over a per-element property table (such as
/// `elements/magpie.csv`: an `element` column of symbols, then one numeric column per property),
/// for descriptor-token adapters: for each property, the fraction-weighted mean and standard
/// deviation √(Σ fᵢ (xᵢ − mean)²), and the minimum, maximum and range over the elements present.
public struct CompositionDescriptors: Sendable {
    public let file: String
    /// Property names, in the table's column order.
    public let properties: [String]
    /// Each element's properties, by atomic number.
    let rows: [Int: [Double]]

    /// The statistics in the order of ``values(for:)``: `<property>_mean`, `_std`, `_min`, `_max`, `_range`.
    public static let statistics = ["mean", "std", "min", "max", "range"]

    /// Reads the table; an unknown element symbol or a field that is not a finite number is an error
    /// naming the file, line and column.
    public init(path: String) throws {
        let table = try CSVTable.read(path: path)
        guard let symbolColumn = table.columnNames.first, table.columnNames.count > 1 else {
            throw DataError(file: path, line: 1, message: "needs an element column and at least one property column")
        }
        properties = Array(table.columnNames.dropFirst())
        let columns = try properties.map { try table.doubles($0) }
        var rows: [Int: [Double]] = [:]
        for (row, symbol) in try table.strings(symbolColumn).enumerated() {
            guard let element = Element(symbol: symbol) else {
                throw DataError(file: path, line: table.line(ofRow: row), column: symbolColumn, message: "unknown element '\(symbol)'")
            }
            rows[element.atomicNumber] = columns.map { $0[row] }
        }
        (file, self.rows) = (path, rows)
    }

    /// Names of ``values(for:)``, `<property>_<statistic>`.
    public var names: [String] { properties.flatMap { property in Self.statistics.map { "\(property)_\($0)" } } }

    /// The statistics of `formula` (5 per property); an element the table lacks is an error naming it.
    public func values(for formula: ChemicalFormula) throws -> [Double] {
        try values(elements: formula.fractions.map(\.element.atomicNumber), fractions: formula.fractions.map(\.fraction), what: formula.text)
    }

    /// The statistics of a composition given as atomic numbers and their fractions (summing to 1).
    public func values(elements: [Int], fractions: [Double], what: String = "the composition") throws -> [Double] {
        let parts = try zip(elements, fractions).map { element, fraction -> (fraction: Double, properties: [Double]) in
            guard let properties = rows[element] else {
                throw DataError(file: file, message: "no properties for \(Element.all.first { $0.atomicNumber == element }?.symbol ?? "element \(element)") (in '\(what)')")
            }
            return (fraction, properties)
        }
        return properties.indices.flatMap { index -> [Double] in
            let values = parts.map { $0.properties[index] }
            let mean = parts.reduce(0.0) { $0 + $1.fraction * $1.properties[index] }
            let variance = parts.reduce(0.0) { $0 + $1.fraction * ($1.properties[index] - mean) * ($1.properties[index] - mean) }
            let (low, high) = (values.min()!, values.max()!)
            return [mean, variance.squareRoot(), low, high, high - low]
        }
    }
}
