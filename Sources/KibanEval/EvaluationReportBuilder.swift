/// The HTML report of an evaluation, showing exactly the numbers of `results.json`: each metric's
/// estimate and interval (under k-fold the mean over folds, with repeated seeds the mean over
/// seeds), per-fold (or per-seed) values, and the paired comparisons; curves, confusion matrices
/// and parity plots come from the evaluated examples (the first seed's when there are several).
enum EvaluationReportBuilder {
    static func report(
        task: EvaluationTask, name: String, runs: [[EvaluatedExample]], ours: [EvaluationResults.MetricResult],
        compared: [(name: String, examples: [EvaluatedExample], metrics: [EvaluationResults.MetricResult])],
        comparisons: [EvaluationResults.Comparison], provenance: EvaluationResults.Provenance, seeds: [Int]
    ) throws -> EvaluationReport {
        let label = seeds.count > 1 ? "\(name) (mean of \(seeds.count) seeds)" : name
        let models = [try model(label, runs[0], metrics: ours, task: task, seeds: seeds)]
            + (try compared.map { try model($0.name, $0.examples, metrics: $0.metrics, task: task, seeds: []) })
        let tables = try Dictionary(grouping: comparisons, by: \.other).sorted { $0.key < $1.key }.map { other, rows in
            ModelComparison(
                first: label, second: other,
                differences: try rows.map { row in
                    MetricDifference(
                        metric: try Metric(name: row.metric),
                        result: PairedBootstrapResult(
                            difference: row.difference, lower: row.lower, upper: row.upper, confidence: 0.95, pValue: row.pValue,
                            degenerateResamples: 0))
                },
                mcNemar: rows.first { $0.mcnemarPValue != nil }.map {
                    McNemarResult(firstOnlyCorrect: $0.mcnemarModelOnlyCorrect!, secondOnlyCorrect: $0.mcnemarOtherOnlyCorrect!, pValue: $0.mcnemarPValue!)
                })
        }
        let entries: [(String, String)] = [
            ("task", "\(provenance.task) (\(provenance.taskFile), SHA-256 \(provenance.taskSHA256))"),
            ("protocol", task.protocol == .kfold ? "\(task.folds)-fold, estimate = mean over folds" : "fixed split"),
            ("model", provenance.model), ("weights SHA-256", provenance.weightsSHA256.joined(separator: ", ")),
            ("data SHA-256", provenance.dataSHA256.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")),
            ("Kiban", "\(provenance.kibanVersion), git \(provenance.gitCommit)"), ("created", provenance.created),
        ]
        return EvaluationReport(
            title: "\(task.name): \(name)", provenance: entries.map { ProvenanceEntry(key: $0.0, value: $0.1) }, models: models,
            comparisons: tables)
    }

    /// One model's column: the computed intervals, per-fold (else per-seed) values, and the
    /// curves or parity points of its examples.
    private static func model(
        _ name: String, _ examples: [EvaluatedExample], metrics: [EvaluationResults.MetricResult], task: EvaluationTask, seeds: [Int]
    ) throws -> ModelReport {
        let results = try metrics.map { result in
            let splits = !result.folds.isEmpty
                ? result.folds.enumerated().map { SplitValue(name: "fold \($0.offset)", value: $0.element) }
                : zip(seeds, result.seeds).map { SplitValue(name: "seed \($0)", value: $1) }
            return MetricResult(
                metric: try Metric(name: result.metric),
                interval: BootstrapInterval(estimate: result.estimate, lower: result.lower, upper: result.upper, confidence: 0.95),
                splits: splits)
        }
        switch MetricSummary.predictions(examples, task: task) {
        case .classification(let labels, let predicted, let scores):
            return ModelReport(
                name: name, exampleCount: examples.count, metrics: results,
                classification: ClassificationDetails(labels: labels, predicted: predicted, positiveScores: scores))
        case .regression(let targets, let predicted):
            return ModelReport(
                name: name, exampleCount: examples.count, metrics: results, regression: RegressionDetails(targets: targets, predicted: predicted))
        case .languageModel:
            return ModelReport(name: name, exampleCount: examples.count, metrics: results)
        }
    }
}
