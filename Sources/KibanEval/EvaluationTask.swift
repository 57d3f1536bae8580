import Foundation
import KibanTrain

/// A task of the registry (`Configs/tasks/*.yaml`): which examples, which truth, which metrics,
/// and which protocol. Keys are the field names in snake_case; every field has a default, so a
/// file gives only what differs. `${KIBAN_DATA}` expands to the data folder.
///
/// ```yaml
/// name: amp-vs-uniprot
/// kind: classification          # classification | regression | masked-lm
/// data: ${KIBAN_DATA}/protein/amp_vs_uniprot.csv
/// input_column: sequence        # sequences, or formulas for composition models
/// label_column: label           # classification: class names; regression: numbers
/// id_column: ""                 # "" → ids row<N>, the 1-based data row of the file
/// protocol: fixed               # fixed (split_column == split) | kfold (data holds {fold})
/// split_column: split
/// split: test
/// metrics: [accuracy, balanced_accuracy, f1, mcc, auroc, auprc]
/// positive_label: "1"           # binary ranking metrics: the class whose probability is the score
/// ```
public struct EvaluationTask: Codable, Sendable, Equatable {
    public var name = "task"
    public var description = ""
    public var kind = Kind.classification
    /// A CSV file (FASTA for masked-LM tasks); for `kfold`, a path with `{fold}`.
    public var data = ""
    public var inputColumn = "sequence"
    public var labelColumn = "label"
    public var idColumn = ""
    public var `protocol` = EvaluationProtocol.fixed
    /// Fixed split: the rows whose `split_column` equals `split` (empty column: every row).
    public var splitColumn = "split"
    public var split = "test"
    /// K-fold: folds 0..<folds, each `data` with `{fold}` replaced (Matbench: `test{fold}.csv`).
    public var folds = 5
    /// Masked-LM on FASTA: the held-out sequences are those `kiban finetune` holds out for
    /// validation (a hash of the sequence below this fraction).
    public var validationFraction = 0.05
    public var metrics: [String] = ["accuracy"]
    public var positiveLabel = "1"
    /// Sequences longer than the model: error, truncate or window (as `kiban infer --long`).
    public var long = "truncate"
    /// Tokens per sequence (0: the model's limit).
    public var maxTokens = 0
    /// Bootstrap resamples for every interval and paired test.
    public var resamples = 1000
    public var seed = 0

    public enum Kind: String, Codable, Sendable { case classification, regression, maskedLM = "masked-lm" }
    public enum EvaluationProtocol: String, Codable, Sendable { case fixed, kfold }

    public init() {}

    /// Reads and checks a task file: unknown keys and unknown metrics are errors naming the file and key.
    public static func load(path: String) throws -> EvaluationTask {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigTree.ConfigError("\(path): cannot read the task file")
        }
        let defaults = try ConfigTree(encoding: EvaluationTask(), keys: .convertToSnakeCase)
        let tree = try ConfigTree.parse(yaml: text, file: path)
        try tree.checkKeys(against: defaults, file: path)
        let task = try tree.overlaid(on: defaults, schema: defaults).expandingEnvironment(file: path)
            .decode(EvaluationTask.self, file: path, keys: .convertFromSnakeCase)
        for name in task.metrics {
            do {
                let metric = try Metric(name: name)
                guard task.allows(metric) else {
                    throw MetricError("metric '\(name)' does not apply to a \(task.kind.rawValue) task")
                }
            } catch let error as MetricError {
                throw ConfigTree.ConfigError("\(path): key 'metrics': \(error)")
            }
        }
        guard !task.data.isEmpty else { throw ConfigTree.ConfigError("\(path): key 'data': no data file given") }
        if task.protocol == .kfold && !task.data.contains("{fold}") {
            throw ConfigTree.ConfigError("\(path): key 'data': a kfold task names its files with {fold} (is '\(task.data)')")
        }
        guard task.folds > 0, task.resamples >= 100 else {
            throw ConfigTree.ConfigError("\(path): keys 'folds' must be positive and 'resamples' at least 100")
        }
        return task
    }

    /// Whether `metric` reads this task's kind of predictions.
    func allows(_ metric: Metric) -> Bool {
        switch (kind, metric) {
        case (.classification, .accuracy), (.classification, .balancedAccuracy), (.classification, .f1), (.classification, .mcc),
            (.classification, .auroc), (.classification, .auprc):
            true
        case (.regression, .mae), (.regression, .rmse), (.regression, .r2), (.regression, .pearson), (.regression, .spearman):
            true
        case (.maskedLM, .perplexity): true
        default: false
        }
    }

    /// The data file of `fold` (the one file of a fixed split).
    func dataFile(fold: Int?) -> String {
        fold.map { data.replacingOccurrences(of: "{fold}", with: String($0)) } ?? data
    }
}
