import Foundation
import KibanFormats
import KibanTensor

/// Opens a committed reference fixture from `Tests/Fixtures` (found from this file's path, so
/// tests need no resources and never Python).
public func referenceFixture(_ name: String) throws -> SafeTensorsFile {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/\(name).safetensors")
    return try SafeTensorsFile(contentsOf: url)
}

/// The tolerances every reference test uses.
public enum ReferenceComparison {
    /// Elements violating |a − r| ≤ 1e-5·max|r| + 1e-4·|r|, as "index: actual vs reference" lines
    /// (empty when all pass), plus a shape mismatch if any.
    public static func valueMismatches(_ actual: Tensor, shape: [Int], reference: [Double]) -> [String] {
        guard actual.shape == shape else { return ["shape \(actual.shape) vs reference \(shape)"] }
        let scale = reference.map(abs).max() ?? 0
        return zip(actual.toArray(), reference).enumerated().compactMap { index, pair in
            abs(Double(pair.0) - pair.1) <= 1e-5 * scale + 1e-4 * abs(pair.1) ? nil : "\(index): \(pair.0) vs \(pair.1)"
        }
    }

    /// ‖a − r‖₂ / ‖r‖₂, or ‖a‖₂ itself when the reference is rounding noise (‖r‖₂ < 1e-12) — a
    /// gradient that is zero in exact arithmetic, such as an attention key bias's.
    public static func relativeError(_ actual: [Double], reference: [Double]) -> Double {
        let difference = zip(actual, reference).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let norm = reference.map { $0 * $0 }.reduce(0, +).squareRoot()
        return norm < 1e-12 ? difference : difference / norm
    }

    /// The largest relative error allowed for a gradient (1e-3); for a zero reference, the
    /// largest absolute norm (1e-6, float32 noise).
    public static let gradientTolerance = 1e-3
}
