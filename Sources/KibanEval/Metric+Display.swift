/// How a report names the metrics.
extension Metric {
    /// The name shown in report tables and charts ("Balanced accuracy", "AUROC", "R²").
    public var displayName: String {
        switch self {
        case .accuracy: "Accuracy"
        case .balancedAccuracy: "Balanced accuracy"
        case .f1: "F1"
        case .mcc: "MCC"
        case .auroc: "AUROC"
        case .auprc: "AUPRC (AP)"
        case .mae: "MAE"
        case .rmse: "RMSE"
        case .r2: "R²"
        case .pearson: "Pearson r"
        case .spearman: "Spearman ρ"
        case .perplexity: "Perplexity"
        }
    }
}
