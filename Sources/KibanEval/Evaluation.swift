import Foundation
import KibanData
import KibanFormats
import KibanInfer
import KibanTrain

/// How `kiban eval` runs a task.
public struct EvaluationOptions: Sendable {
    /// The model, or for k-fold tasks a path with `{fold}` (one trained model per fold).
    public var model: String
    public var modelOptions = ModelOptions()
    /// Predictions of other models to compare with: (name, file of id,prediction[,score]).
    public var compare: [(name: String, path: String)] = []
    /// Results, predictions and the report go here.
    public var output: String
    /// The evaluated model's name in tables (default: the model path).
    public var name: String?
    /// Repeated training seeds: `model` holds `{seed}`, one trained model per seed; the estimate is
    /// the mean over seeds, resampled over the same examples for every seed.
    public var seeds: [Int] = []
    public var batching = BatchLimit.tokens(16_384)
    public var showProgress = true

    public init(model: String, output: String) { (self.model, self.output) = (model, output) }
}

/// One evaluated example: its id, the truth and the model's prediction, and its fold.
struct EvaluatedExample {
    let id: String
    let fold: Int
    /// Classification: the class index; regression: the target.
    let truth: Double
    /// Classification: the predicted class index and the positive-class probability; regression:
    /// the prediction; masked-LM: −PLL and the residue count.
    let prediction: Double
    let score: Double
}

/// Runs a registry task on a model: inference on every fold's examples, metrics with bootstrap
/// intervals, paired comparisons, `results.json`.
public enum Evaluation {
    public static func run(task: EvaluationTask, taskFile: String, options: EvaluationOptions) throws -> EvaluationResults {
        let output = URL(fileURLWithPath: options.output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var runs: [[EvaluatedExample]] = [], hashes: [String: String] = [:], weights: [String] = [], files: [String] = []
        var classNames: [String] = []
        let folds: [Int?] = task.protocol == .kfold ? (0..<task.folds).map { $0 } : [nil]
        if !options.seeds.isEmpty && !options.model.contains("{seed}") {
            throw EvaluationError("--seeds: --model must hold {seed} (one trained model per seed), e.g. runs/amp/seed{seed}")
        }
        for seed in options.seeds.isEmpty ? [nil] : options.seeds.map(Optional.some) {
            var examples: [EvaluatedExample] = []
            for fold in folds {
                let file = task.dataFile(fold: fold)
                hashes[file] = try SHA256.hexDigest(ofFile: URL(fileURLWithPath: file))
                var modelPath = fold.map { options.model.replacingOccurrences(of: "{fold}", with: String($0)) } ?? options.model
                if let seed { modelPath = modelPath.replacingOccurrences(of: "{seed}", with: String(seed)) }
                let model = try InferenceModel.load(modelPath, options: options.modelOptions)
                weights.append(model.weightsSHA256)
                let rows = try TaskExamples.read(task, file: file, fold: fold)
                let suffix = (fold.map { "-fold\($0)" } ?? "") + (seed.map { "-seed\($0)" } ?? "")
                let predictions = try predict(model, rows: rows, task: task, output: output, suffix: suffix, options: options)
                files.append(predictions.path)
                if case .classification(let labels)? = model.headKind {
                    guard classNames.isEmpty || classNames == labels else {
                        throw EvaluationError("\(modelPath): its classes \(labels) differ from the other models' \(classNames)")
                    }
                    classNames = labels
                }
                examples += try TaskExamples.join(rows, predictions: predictions, task: task, classNames: classNames, fold: fold ?? 0)
            }
            runs.append(examples)
        }
        let examples = runs[0]
        let metrics = try task.metrics.map { try Metric(name: $0) }
        let ours = try MetricSummary.results(runs, task: task, metrics: metrics, folds: folds.count)
        var others: [String: [EvaluationResults.MetricResult]] = [:], comparisons: [EvaluationResults.Comparison] = []
        var compared: [(name: String, examples: [EvaluatedExample], metrics: [EvaluationResults.MetricResult])] = []
        for (name, path) in options.compare {
            let theirs = try TaskExamples.readComparison(path, like: examples, task: task, classNames: classNames)
            others[name] = try MetricSummary.results([theirs], task: task, metrics: metrics, folds: folds.count)
            compared.append((name, theirs, others[name]!))
            comparisons += try MetricSummary.compare(runs, theirs, name: name, task: task, metrics: metrics)
        }
        let provenance = EvaluationResults.Provenance(
            task: task.name, taskFile: taskFile, taskSHA256: try SHA256.hexDigest(ofFile: URL(fileURLWithPath: taskFile)),
            dataSHA256: hashes, model: options.model, weightsSHA256: weights, kibanVersion: Checkpoint.kibanVersion,
            gitCommit: gitCommit(), created: ISO8601DateFormatter().string(from: Date()))
        let seeds = options.seeds.isEmpty ? "" : "; \(options.seeds.count) training seeds, estimate = mean over seeds"
        let split = task.kind == .maskedLM
            ? "the \(task.validationFraction) of the sequences held out by hash" : "fixed split '\(task.split)'"
        let description = (task.protocol == .kfold ? "\(task.folds)-fold: metric per fold, estimate = mean over folds" : split) + seeds + "; 95 % interval by a bootstrap over examples (\(task.resamples) resamples, seed \(task.seed))"
        var results = EvaluationResults(
            provenance: provenance, examples: examples.count, protocolDescription: description, metrics: ours, otherMetrics: others,
            comparisons: comparisons, files: files)
        let reportURL = output.appendingPathComponent("report.html")
        let report = try EvaluationReportBuilder.report(
            task: task, name: options.name ?? options.model, runs: runs, ours: ours, compared: compared, comparisons: comparisons,
            provenance: provenance, seeds: options.seeds)
        try Data(report.html().utf8).write(to: reportURL, options: .atomic)
        let resultsURL = output.appendingPathComponent("results.json")
        results.files += [reportURL.path, resultsURL.path]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(results).write(to: resultsURL, options: .atomic)
        return results
    }

    /// Inference on one fold's examples: an input file in the output folder, predictions (or
    /// scores) beside it.
    static func predict(
        _ model: InferenceModel, rows: [TaskExamples.Row], task: EvaluationTask, output: URL, suffix: String, options: EvaluationOptions
    ) throws -> URL {
        let input = output.appendingPathComponent("input\(suffix).csv")
        try TaskExamples.writeInput(rows, to: input)
        let predictions = output.appendingPathComponent((task.kind == .maskedLM ? "scores" : "predictions") + suffix + ".csv")
        var inference = InferenceOptions(input: input.path)
        if task.kind == .maskedLM { inference.scores = predictions.path } else { inference.predictions = predictions.path }
        inference.overwrite = true
        inference.batching = options.batching
        inference.showProgress = options.showProgress
        inference.inputOptions.textColumn = "sequence"
        guard let long = LongSequencePolicy(rawValue: task.long) else {
            throw EvaluationError("task '\(task.name)': key 'long': '\(task.long)' is not error, truncate or window")
        }
        inference.long = long
        if task.maxTokens > 0 { inference.maxTokens = task.maxTokens }
        try InferenceRun(model: model, options: inference).run()
        return predictions
    }

    /// The git commit of the working directory's repository, or "unknown".
    static func gitCommit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }
}

/// An evaluation the user must fix; names the file and place.
public struct EvaluationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
