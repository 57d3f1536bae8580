import Foundation
import KibanData
import KibanModels

/// The variants to score (`--variants FILE`): a CSV with a `mutant` column (`A23G`, or
/// `A23G:K40R` for a multi-mutant; positions count residues from 1) and an `id` column naming the
/// input sequence each variant belongs to. Without an `id` column every variant belongs to the
/// input's only sequence.
final class VariantTable {
    let path: String
    private var byID: [String: [(text: String, line: Int)]] = [:]
    private var unnamed: [(text: String, line: Int)] = []
    private var matched = Set<String>(), recordsSeen = 0

    init(path: String) throws {
        self.path = path
        let reader = try CSVRowReader(path: path, requiredColumns: ["mutant"])
        let hasIDs = reader.columnNames.contains("id")
        while let row = try reader.next() {
            let entry = (text: row["mutant"]!.trimmingCharacters(in: .whitespaces), line: row.line)
            if hasIDs { byID[row["id"]!, default: []].append(entry) } else { unnamed.append(entry) }
        }
    }

    /// The parsed variants of `record`, each checked against its sequence.
    func variants(for record: InferenceRecord) throws -> [ProteinVariant] {
        recordsSeen += 1
        if !unnamed.isEmpty && recordsSeen > 1 {
            throw InferenceError("\(path): has no 'id' column, so the input must hold one sequence; it holds more (\(record.location))")
        }
        let entries = unnamed.isEmpty ? byID[record.id] ?? [] : unnamed
        matched.insert(record.id)
        return try entries.map { entry in
            do {
                return try ProteinVariant(entry.text, sequence: record.text.uppercased())
            } catch {
                throw InferenceError("\(path):\(entry.line): \(error) (sequence '\(record.id)' at \(record.location))")
            }
        }
    }

    /// Every id the table names must have been an input sequence.
    func checkAllMatched() throws {
        if let (id, entries) = byID.first(where: { !matched.contains($0.key) }) {
            throw InferenceError("\(path):\(entries[0].line): id '\(id)' is not a sequence of the input")
        }
    }
}
