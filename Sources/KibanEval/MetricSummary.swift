/// Metrics, intervals and paired comparisons of evaluated examples.
enum MetricSummary {
    /// The task's predictions of `examples` (all folds).
    static func predictions(_ examples: [EvaluatedExample], task: EvaluationTask) -> Predictions {
        switch task.kind {
        case .classification:
            let scores = examples.map(\.score)
            return .classification(
                labels: examples.map { Int($0.truth) }, predicted: examples.map { Int($0.prediction) },
                positiveScores: scores.contains(where: \.isNaN) ? nil : scores)
        case .regression: return .regression(targets: examples.map(\.truth), predicted: examples.map(\.prediction))
        case .maskedLM:
            return .languageModel(negativeLogLikelihoods: examples.map(\.prediction), tokenCounts: examples.map { Int($0.score) })
        }
    }

    /// The metric of a resample (indices into `examples`): on a fixed split the metric itself, under
    /// k-fold the mean of the folds' metrics (each on the resampled examples of that fold).
    static func statistic(_ metric: Metric, _ examples: [EvaluatedExample], task: EvaluationTask, folds: Int) -> ([Int]) throws -> Double {
        let all = predictions(examples, task: task)
        guard folds > 1 else { return { try metric.value(of: all.examples(at: $0)) } }
        return { indices in
            var byFold = [[Int]](repeating: [], count: folds)
            for index in indices { byFold[examples[index].fold].append(index) }
            return try byFold.map { try metric.value(of: all.examples(at: $0)) }.reduce(0, +) / Double(folds)
        }
    }

    /// The statistic averaged over repeated training seeds: `runs` holds one list of the same
    /// examples (in the same order) per seed, and a resample draws the same examples for every seed.
    static func statistic(_ metric: Metric, _ runs: [[EvaluatedExample]], task: EvaluationTask, folds: Int) -> ([Int]) throws -> Double {
        let statistics = runs.map { statistic(metric, $0, task: task, folds: folds) }
        return { indices in try statistics.map { try $0(indices) }.reduce(0, +) / Double(statistics.count) }
    }

    /// Each metric's estimate (the mean over folds and seeds) with its bootstrap interval, and its
    /// per-fold and per-seed values.
    static func results(_ runs: [[EvaluatedExample]], task: EvaluationTask, metrics: [Metric], folds: Int) throws -> [EvaluationResults.MetricResult] {
        try metrics.compactMap { metric in
            if [.auroc, .auprc].contains(metric) && runs.joined().contains(where: { $0.score.isNaN }) { return nil }
            let interval = try Bootstrap.interval(
                exampleCount: runs[0].count, resamples: task.resamples, seed: UInt64(task.seed),
                statistic: statistic(metric, runs, task: task, folds: folds))
            let perFold = folds > 1
                ? try (0..<folds).map { fold in
                    try runs.map { try metric.value(of: predictions($0.filter { $0.fold == fold }, task: task)) }.reduce(0, +) / Double(runs.count)
                } : []
            let perSeed = runs.count > 1 ? try runs.map { try statistic(metric, $0, task: task, folds: folds)(Array($0.indices)) } : []
            return EvaluationResults.MetricResult(
                metric: metric.name, estimate: interval.estimate, lower: interval.lower, upper: interval.upper, folds: perFold, seeds: perSeed)
        }
    }

    /// Paired bootstrap of each metric's difference (ours − theirs) and McNemar's test for accuracy.
    static func compare(
        _ ours: [[EvaluatedExample]], _ theirs: [EvaluatedExample], name: String, task: EvaluationTask, metrics: [Metric]
    ) throws -> [EvaluationResults.Comparison] {
        try metrics.compactMap { metric in
            if [.auroc, .auprc].contains(metric) && (ours.joined() + theirs).contains(where: { $0.score.isNaN }) { return nil }
            let folds = Set(theirs.map(\.fold)).count
            let first = statistic(metric, ours, task: task, folds: folds), second = statistic(metric, theirs, task: task, folds: folds)
            let paired = try Bootstrap.pairedDifference(
                exampleCount: theirs.count, resamples: task.resamples, seed: UInt64(task.seed)) { try first($0) - second($0) }
            var comparison = EvaluationResults.Comparison(
                other: name, metric: metric.name, difference: paired.difference, lower: paired.lower, upper: paired.upper,
                pValue: paired.pValue)
            if metric == .accuracy && ours.count == 1 {
                let test = try McNemar.exactTest(
                    firstCorrect: ours[0].map { $0.prediction == $0.truth }, secondCorrect: theirs.map { $0.prediction == $0.truth })
                (comparison.mcnemarModelOnlyCorrect, comparison.mcnemarOtherOnlyCorrect, comparison.mcnemarPValue) =
                    (test.firstOnlyCorrect, test.secondOnlyCorrect, test.pValue)
            }
            return comparison
        }
    }
}
