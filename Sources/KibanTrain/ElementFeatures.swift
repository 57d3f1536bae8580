import Foundation
import KibanData
import KibanTensor

/// Per-element feature tables (mat2vec, magpie, …) as the initial element embedding of a
/// composition model: standardised per feature, then mapped to the model width by a fixed random
/// projection, so chemically similar elements start close together.
enum ElementFeatures {
    /// A (elements, width) table; row z is element z (row 0, the padding slot, stays zero).
    /// Elements the file lacks get small random rows.
    static func embedding(path: String, elements: Int, width: Int, generator: RandomGenerator) throws -> Tensor {
        let table = try CSVTable.read(path: path)
        guard let symbolColumn = table.columnNames.first else { throw DataError(file: path, line: 1, column: nil, message: "no columns") }
        let symbols = try table.strings(symbolColumn)
        let featureColumns = Array(table.columnNames.dropFirst())
        let columns = try featureColumns.map { try table.doubles($0) }
        // Standardise each feature over the elements present.
        let standardised = columns.map { values -> [Double] in
            let mean = values.reduce(0, +) / Double(values.count)
            let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            return values.map { deviation > 0 ? ($0 - mean) / deviation : 0 }
        }
        // projection: (features, width), N(0, 1/features)
        let scale = 1 / Double(featureColumns.count).squareRoot()
        let projection = (0..<(featureColumns.count * width)).map { _ in Double(generator.normal()) * scale }
        var rows = (0..<(elements * width)).map { _ in generator.normal() * 0.1 }
        for index in 0..<width { rows[index] = 0 }
        for (row, symbol) in symbols.enumerated() {
            guard let element = Element(symbol: symbol) else {
                throw DataError(file: path, line: table.line(ofRow: row), column: symbolColumn, message: "unknown element '\(symbol)'")
            }
            guard element.atomicNumber < elements else { continue }
            for output in 0..<width {
                var sum = 0.0
                for feature in featureColumns.indices { sum += standardised[feature][row] * projection[feature * width + output] }
                rows[element.atomicNumber * width + output] = Float(sum)
            }
        }
        return Tensor(shape: [elements, width], values: rows)
    }
}
