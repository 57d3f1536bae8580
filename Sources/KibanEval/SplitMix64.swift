/// SplitMix64 (Steele, Lea & Flood 2014; Vigna's constants): a 64-bit generator defined entirely
/// by integer arithmetic, so one seed gives the same stream on every machine and Swift version.
/// Bootstrap resampling draws from it with `index(below:)` rather than the standard library's
/// `random(in:)`, whose algorithm is not specified.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniform integer in 0..<bound (bound > 0), by Lemire's multiply-and-reject method: no
    /// modulo bias.
    public mutating func index(below bound: Int) -> Int {
        let width = UInt64(bound)
        var product = next().multipliedFullWidth(by: width)
        if product.low < width {
            let threshold = (0 &- width) % width
            while product.low < threshold { product = next().multipliedFullWidth(by: width) }
        }
        return Int(product.high)
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
