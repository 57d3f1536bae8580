import Foundation
import KibanData
import KibanInfer
import KibanTrain

/// A task's examples read from its data files, joined with a model's predictions or another
/// model's predictions file.
enum TaskExamples {
    /// One example of the data: id, input text and truth (a class name, a number, or nothing).
    struct Row {
        let id: String
        let input: String
        let truth: String
        let location: String
    }

    /// The examples of `file` the task evaluates (a fixed split's rows, or a whole fold file).
    static func read(_ task: EvaluationTask, file: String, fold: Int?) throws -> [Row] {
        if task.kind == .maskedLM {
            return try FASTAReader.readAll(path: file).filter { record in
                TrainingData.isHeldOut(record.sequence, fraction: task.validationFraction)
            }.map { Row(id: String($0.header.prefix { $0 != " " }), input: $0.sequence, truth: "", location: "\(file):\($0.line)") }
        }
        let table = try CSVTable.read(path: file, requiredColumns: [task.inputColumn, task.labelColumn] + (task.idColumn.isEmpty ? [] : [task.idColumn]))
        let inputs = try table.strings(task.inputColumn), truths = try table.strings(task.labelColumn)
        let ids = task.idColumn.isEmpty ? nil : try table.strings(task.idColumn)
        let useSplit = task.protocol == .fixed && !task.splitColumn.isEmpty
        if useSplit && !table.columnNames.contains(task.splitColumn) {
            throw EvaluationError("\(file): no column '\(task.splitColumn)' (key 'split_column' of task '\(task.name)')")
        }
        let splits = useSplit ? try table.strings(task.splitColumn) : nil
        var rows: [Row] = []
        for index in inputs.indices where splits.map({ $0[index] == task.split }) ?? true {
            let id = ids?[index] ?? (fold.map { "fold\($0)-row\(index + 1)" } ?? "row\(index + 1)")
            rows.append(Row(id: id, input: inputs[index], truth: truths[index], location: "\(file):\(table.line(ofRow: index))"))
        }
        guard !rows.isEmpty else { throw EvaluationError("\(file): no examples with \(task.splitColumn) == '\(task.split)'") }
        return rows
    }

    /// The inference input: `id,sequence` rows.
    static func writeInput(_ rows: [Row], to url: URL) throws {
        let lines = ["id,sequence"] + rows.map { TableWriter.csvField($0.id) + "," + TableWriter.csvField($0.input) }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    /// Rows joined with the predictions (or scores) file that inference wrote for them.
    static func join(_ rows: [Row], predictions: URL, task: EvaluationTask, classNames: [String], fold: Int) throws -> [EvaluatedExample] {
        let table = try CSVTable.read(path: predictions.path)
        let ids = try table.strings("id")
        var byID: [String: Int] = [:]
        for (index, id) in ids.enumerated() { byID[id] = index }
        switch task.kind {
        case .maskedLM:
            let pll = try table.doubles("pseudo_log_likelihood"), lengths = try table.integers("length")
            return try rows.map { row in
                let index = try position(of: row, in: byID, file: predictions.path)
                return EvaluatedExample(id: row.id, fold: fold, truth: 0, prediction: -pll[index], score: Double(lengths[index]))
            }
        case .regression:
            let values = try table.doubles("prediction")
            return try rows.map { row in
                let index = try position(of: row, in: byID, file: predictions.path)
                return EvaluatedExample(id: row.id, fold: fold, truth: try number(row.truth, row: row, task: task), prediction: values[index], score: values[index])
            }
        case .classification:
            let labels = try table.strings("label")
            let positiveColumn = "probability_\(task.positiveLabel)"
            let scores = table.columnNames.contains(positiveColumn) ? try table.doubles(positiveColumn) : nil
            return try rows.map { row in
                let index = try position(of: row, in: byID, file: predictions.path)
                return EvaluatedExample(
                    id: row.id, fold: fold, truth: Double(try classIndex(row.truth, classNames: classNames, place: row.location, task: task)),
                    prediction: Double(try classIndex(labels[index], classNames: classNames, place: predictions.path, task: task)),
                    score: scores?[index] ?? .nan)
            }
        }
    }

    /// Another model's predictions (`id,prediction[,score]`) for exactly the examples of `like`.
    static func readComparison(_ path: String, like examples: [EvaluatedExample], task: EvaluationTask, classNames: [String]) throws -> [EvaluatedExample] {
        let table = try CSVTable.read(path: path, requiredColumns: ["id", "prediction"])
        let ids = try table.strings("id"), predictions = try table.strings("prediction")
        let scores = table.columnNames.contains("score") ? try table.doubles("score") : nil
        let expected = Dictionary(uniqueKeysWithValues: examples.enumerated().map { ($1.id, $0) })
        var found: [Int: (prediction: Double, score: Double)] = [:]
        for (row, id) in ids.enumerated() {
            let place = "\(path):\(table.line(ofRow: row))"
            guard let index = expected[id] else {
                throw EvaluationError("\(place): id '\(id)' is not an example of task '\(task.name)' (its ids look like '\(examples.first?.id ?? "")')")
            }
            guard found[index] == nil else { throw EvaluationError("\(place): id '\(id)' appears twice") }
            let prediction: Double
            switch task.kind {
            case .classification: prediction = Double(try classIndex(predictions[row], classNames: classNames, place: place, task: task))
            case .regression, .maskedLM:
                guard let value = Double(predictions[row].trimmingCharacters(in: .whitespaces)) else {
                    throw EvaluationError("\(place): prediction '\(predictions[row])' is not a number")
                }
                prediction = value
            }
            found[index] = (prediction, scores?[row] ?? .nan)
        }
        let missing = examples.indices.filter { found[$0] == nil }
        guard missing.isEmpty else {
            throw EvaluationError("\(path): no prediction for \(missing.count) of the task's \(examples.count) examples (first: '\(examples[missing[0]].id)')")
        }
        return examples.enumerated().map { index, example in
            EvaluatedExample(id: example.id, fold: example.fold, truth: example.truth, prediction: found[index]!.prediction, score: found[index]!.score)
        }
    }

    private static func position(of row: Row, in byID: [String: Int], file: String) throws -> Int {
        guard let index = byID[row.id] else { throw EvaluationError("\(file): no prediction for id '\(row.id)' (\(row.location))") }
        return index
    }

    private static func number(_ text: String, row: Row, task: EvaluationTask) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
            throw EvaluationError("\(row.location): column '\(task.labelColumn)': '\(text)' is not a number")
        }
        return value
    }

    private static func classIndex(_ name: String, classNames: [String], place: String, task: EvaluationTask) throws -> Int {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard let index = classNames.firstIndex(of: trimmed) else {
            throw EvaluationError("\(place): class '\(name)' is not one of the model's classes \(classNames) (task '\(task.name)')")
        }
        return index
    }
}
