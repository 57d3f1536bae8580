/// One example, already tokenized. Which fields matter depends on the task.
public struct Example: Sendable {
    /// Token ids with the model's special tokens; composition tasks: atomic numbers.
    public var tokens: [Int]
    /// Composition tasks: each element's fraction (sums to 1).
    public var fractions: [Float] = []
    /// Sequence classification: the class.
    public var label = 0
    /// Regression: the target.
    public var target: Float = 0
    /// Token classification: one class per token (−100 on special tokens).
    public var tokenLabels: [Int] = []
    /// Descriptor adapters: the example's descriptor vector (Magpie statistics, peptide descriptors).
    public var features: [Float] = []

    public init(tokens: [Int], fractions: [Float] = [], label: Int = 0, target: Float = 0, tokenLabels: [Int] = []) {
        (self.tokens, self.fractions, self.label, self.target, self.tokenLabels) = (tokens, fractions, label, target, tokenLabels)
    }
}
