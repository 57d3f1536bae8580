/// Input checks shared by the metrics; each throws a `MetricError` naming the metric.
extension Metric {
    static func requireMatchingCounts(_ metric: String, _ first: Int, _ second: Int) throws {
        guard first > 0 else { throw MetricError("\(metric): empty input") }
        guard first == second else { throw MetricError("\(metric): \(first) targets but \(second) predictions") }
    }

    static func requireFinite(_ metric: String, _ values: [Double], _ role: String) throws {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw MetricError("\(metric): \(role)[\(index)] is \(values[index]), not a finite number")
        }
    }

    static func requireBinary(_ metric: String, _ labels: [Int], _ role: String) throws {
        if let index = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw MetricError("\(metric): \(role)[\(index)] is \(labels[index]); binary \(role) must be 0 or 1")
        }
    }

    static func requireNotConstant(_ metric: String, _ values: [Double], _ role: String) throws {
        guard let first = values.first, values.contains(where: { $0 != first }) else {
            throw MetricError("\(metric): every \(role) value is \(values.first ?? .nan), zero variance")
        }
    }
}

/// The sum of `values` added in ascending order, so that any permutation of the same values gives
/// the same bits.
func orderIndependentSum(_ values: [Double]) -> Double {
    values.sorted().reduce(0, +)
}
