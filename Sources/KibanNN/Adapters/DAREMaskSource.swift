import KibanTensor

/// Where DARE (`dare_linear`, `dare_ties`) takes the random keep-mask of each tensor it prunes.
/// PEFT draws them with `torch.bernoulli`; Kiban by default from a ``RandomGenerator``, and a
/// caller can hand in fixed masks (a test replays PEFT's own).
public protocol DAREMaskSource {
    /// A mask of 0s and 1s for `request`'s tensor, row-major, each 1 with probability `request.density`.
    func keepMask(for request: DAREMaskRequest) throws -> [Float]
}

/// One tensor that DARE prunes.
public struct DAREMaskRequest: Sendable, Equatable {
    /// Which factor of the adapter, under PEFT's names.
    public enum Factor: String, Sendable {
        /// A: (r, C).
        case down = "lora_A"
        /// B: (D, r).
        case up = "lora_B"
    }

    /// The Linear's dotted path, e.g. `esm.encoder.layer.0.attention.self.query`.
    public let layer: String
    /// The adapter whose factor is pruned.
    public let adapter: String
    public let factor: Factor
    public let shape: [Int]
    /// The probability of keeping an element.
    public let density: Double
}

extension RandomGenerator: DAREMaskSource {
    /// Independent Bernoulli(density) draws, one uniform number per element.
    public func keepMask(for request: DAREMaskRequest) -> [Float] {
        (0..<request.shape.reduce(1, *)).map { _ in Double(uniform()) < request.density ? 1 : 0 }
    }
}
