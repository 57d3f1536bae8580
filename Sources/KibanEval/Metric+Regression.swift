/// Regression metrics and correlations. All throw a `MetricError` for empty or mismatched inputs
/// and non-finite values. Sums add their terms in ascending order (`orderIndependentSum`), so
/// shuffling the examples gives bit-identical results.
extension Metric {
    /// Mean absolute error (1/n) Σ |ŷᵢ − yᵢ|. Equals `sklearn.metrics.mean_absolute_error(targets, predicted)`.
    public static func meanAbsoluteError(targets: [Double], predicted: [Double]) throws -> Double {
        try requireRegressionInput("mae", targets, predicted)
        return orderIndependentSum(zip(predicted, targets).map { abs($0 - $1) }) / Double(targets.count)
    }

    /// Root mean squared error √((1/n) Σ (ŷᵢ − yᵢ)²). Equals
    /// `sklearn.metrics.root_mean_squared_error(targets, predicted)`.
    public static func rootMeanSquaredError(targets: [Double], predicted: [Double]) throws -> Double {
        try requireRegressionInput("rmse", targets, predicted)
        return (orderIndependentSum(zip(predicted, targets).map { ($0 - $1) * ($0 - $1) }) / Double(targets.count)).squareRoot()
    }

    /// Coefficient of determination R² = 1 − Σ (yᵢ − ŷᵢ)² / Σ (yᵢ − ȳ)² (can be negative). Equals
    /// `sklearn.metrics.r2_score(targets, predicted)`; constant targets throw (zero variance),
    /// where scikit-learn returns 1 or 0 by its `force_finite` convention.
    public static func coefficientOfDetermination(targets: [Double], predicted: [Double]) throws -> Double {
        try requireRegressionInput("r2", targets, predicted)
        try requireNotConstant("r2", targets, "target")
        let mean = orderIndependentSum(targets) / Double(targets.count)
        let residual = orderIndependentSum(zip(targets, predicted).map { ($0 - $1) * ($0 - $1) })
        let total = orderIndependentSum(targets.map { ($0 - mean) * ($0 - mean) })
        return 1 - residual / total
    }

    /// Pearson correlation r = Σ (xᵢ − x̄)(yᵢ − ȳ) / √(Σ (xᵢ − x̄)² · Σ (yᵢ − ȳ)²), clipped to
    /// [−1, 1]. Equals the statistic of `scipy.stats.pearsonr(x, y)`; needs n ≥ 2 and throws when
    /// either input is constant (zero variance).
    public static func pearson(_ x: [Double], _ y: [Double]) throws -> Double {
        try requireRegressionInput("pearson", x, y)
        try requireNotConstant("pearson", x, "first")
        try requireNotConstant("pearson", y, "second")
        let meanX = orderIndependentSum(x) / Double(x.count)
        let meanY = orderIndependentSum(y) / Double(y.count)
        let covariance = orderIndependentSum(zip(x, y).map { ($0 - meanX) * ($1 - meanY) })
        let normX = orderIndependentSum(x.map { ($0 - meanX) * ($0 - meanX) }).squareRoot()
        let normY = orderIndependentSum(y.map { ($0 - meanY) * ($0 - meanY) }).squareRoot()
        return min(1, max(-1, covariance / (normX * normY)))
    }

    /// Spearman rank correlation: `pearson` of the average ranks (`averageRanks`, ties sharing
    /// their mean rank). Equals the statistic of `scipy.stats.spearmanr(x, y)`; throws when either
    /// input is constant.
    public static func spearman(_ x: [Double], _ y: [Double]) throws -> Double {
        try requireRegressionInput("spearman", x, y)
        try requireNotConstant("spearman", x, "first")
        try requireNotConstant("spearman", y, "second")
        return try pearson(averageRanks(x), averageRanks(y))
    }

    static func requireRegressionInput(_ metric: String, _ targets: [Double], _ predicted: [Double]) throws {
        try requireMatchingCounts(metric, targets.count, predicted.count)
        try requireFinite(metric, targets, "targets")
        try requireFinite(metric, predicted, "predictions")
    }
}
