/// What `kiban eval` writes as `results.json`: every number with its interval and the provenance
/// needed to reproduce it.
public struct EvaluationResults: Codable, Sendable {
    public struct Provenance: Codable, Sendable {
        public var task: String
        public var taskFile: String
        public var taskSHA256: String
        /// SHA-256 of every data file read, by path.
        public var dataSHA256: [String: String]
        public var model: String
        /// SHA-256 of the weights (run folders: the checkpoint) of each fold's model.
        public var weightsSHA256: [String]
        public var kibanVersion: String
        public var gitCommit: String
        public var created: String
    }

    /// A metric's estimate with its 95 % bootstrap interval; per-fold values under k-fold (each the
    /// mean over seeds) and per-seed values when several trained seeds were evaluated.
    public struct MetricResult: Codable, Sendable {
        public var metric: String
        public var estimate: Double
        public var lower: Double
        public var upper: Double
        public var folds: [Double]
        public var seeds: [Double] = []
    }

    /// model − other on the same examples: the paired bootstrap of the difference, and McNemar's
    /// exact test for accuracy (one seed only: McNemar compares two sets of predictions).
    public struct Comparison: Codable, Sendable {
        public var other: String
        public var metric: String
        public var difference: Double
        public var lower: Double
        public var upper: Double
        public var pValue: Double
        public var mcnemarModelOnlyCorrect: Int?
        public var mcnemarOtherOnlyCorrect: Int?
        public var mcnemarPValue: Double?
    }

    public var provenance: Provenance
    public var examples: Int
    public var protocolDescription: String
    public var metrics: [MetricResult]
    /// The compared models' own metrics, by name.
    public var otherMetrics: [String: [MetricResult]]
    public var comparisons: [Comparison]
    /// Files written next to the results (predictions per fold, the report).
    public var files: [String]
}
