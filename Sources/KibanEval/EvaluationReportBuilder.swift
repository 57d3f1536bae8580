/// The HTML report of an evaluation: the evaluated model (one column per training seed when there
/// are several) and every compared one, per-fold values under k-fold, and the paired comparisons
/// of the first seed's model (computed with the task's resamples and seed).
enum EvaluationReportBuilder {
    static func report(
        task: EvaluationTask, name: String, runs: [(seed: Int?, examples: [EvaluatedExample])],
        compared: [(name: String, examples: [EvaluatedExample])],
        metrics: [Metric], provenance: EvaluationResults.Provenance, folds: Int
    ) throws -> EvaluationReport {
        let seed = UInt64(task.seed)
        let model = { (label: String, rows: [EvaluatedExample]) -> ModelReport in
            let splits = folds > 1
                ? (0..<folds).map { fold in (name: "fold \(fold)", predictions: MetricSummary.predictions(rows.filter { $0.fold == fold }, task: task)) }
                : []
            return ModelReport(
                name: label, predictions: MetricSummary.predictions(rows, task: task), metrics: metrics, splits: splits,
                resamples: task.resamples, seed: seed)
        }
        let label = { (seed: Int?) in seed.map { "\(name), seed \($0)" } ?? name }
        let examples = runs[0].examples
        let models = runs.map { model(label($0.seed), $0.examples) } + compared.map { model($0.name, $0.examples) }
        let comparisons = compared.map { other in
            ModelComparison(
                first: label(runs[0].seed), firstPredictions: MetricSummary.predictions(examples, task: task), second: other.name,
                secondPredictions: MetricSummary.predictions(other.examples, task: task), metrics: metrics, resamples: task.resamples,
                seed: seed)
        }
        let entries: [(String, String)] = [
            ("task", "\(provenance.task) (\(provenance.taskFile), SHA-256 \(provenance.taskSHA256))"),
            ("protocol", task.protocol == .kfold ? "\(task.folds)-fold" : "fixed split '\(task.split)'"),
            ("model", provenance.model), ("weights SHA-256", provenance.weightsSHA256.joined(separator: ", ")),
            ("data SHA-256", provenance.dataSHA256.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")),
            ("Kiban", "\(provenance.kibanVersion), git \(provenance.gitCommit)"), ("created", provenance.created),
        ]
        return EvaluationReport(
            title: "\(task.name): \(name)", provenance: entries.map { ProvenanceEntry(key: $0.0, value: $0.1) }, models: models,
            comparisons: comparisons)
    }
}
