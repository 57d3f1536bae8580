/// Why a metric, interval or test could not be computed: empty input, mismatched lengths, a single
/// class where two are needed, zero variance, a non-finite value, an unknown metric name. Metrics
/// throw this instead of returning NaN.
public struct MetricError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
