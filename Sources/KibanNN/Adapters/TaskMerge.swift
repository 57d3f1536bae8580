extension LoRA {
    /// How `ties` and `dare_ties` elect each element's sign (PEFT's `majority_sign_method`).
    public enum MajoritySign: String, CaseIterable, Sendable {
        /// The sign of the sum of the pruned values (before weighting).
        case total
        /// The sign that more of the pruned values have; zeros do not vote.
        case frequency
    }
}

/// The element-wise rules of PEFT's `merge_utils` on n tensors of one shape, one per adapter, in
/// float32 as PEFT computes them: each tensor optionally pruned, then either the weighted sum
/// Σ wᵢ·tᵢ (task arithmetic) or TIES's election of a majority sign per element followed by the
/// mean of the weighted values that carry it (disjoint merge, dividing by at least 1).
struct TaskMerge {
    enum Pruning {
        case none
        /// Keep the ⌊density·count⌋ largest magnitudes of each tensor, zero the rest.
        case magnitude(density: Double)
        /// Keep each element where its DARE mask is 1, divided by density.
        case random(density: Double)
    }

    let pruning: Pruning
    /// nil: the weighted sum.
    let election: LoRA.MajoritySign?

    /// Combines `tensors` (flat, one per adapter) with `weights`; `mask(i, density)` gives tensor
    /// i's 0/1 keep-mask for random pruning. As in PEFT, a density of 1 or more prunes nothing
    /// (and draws no mask).
    func callAsFunction(_ tensors: [[Float]], weights: [Float], mask: (Int, Double) throws -> [Float]) throws -> [Float] {
        let pruned = try tensors.indices.map { index in try prune(tensors[index]) { try mask(index, $0) } }
        guard let election else { return Self.weightedSum(pruned, weights: weights) }
        return (0..<pruned[0].count).map { element in
            var vote: Float = 0
            for tensor in pruned { vote += election == .total ? tensor[element] : Self.sign(tensor[element]) }
            let majority: Float = vote >= 0 ? 1 : -1
            var (sum, agreeing): (Float, Float) = (0, 0)
            for (tensor, weight) in zip(pruned, weights) where Self.sign(tensor[element]) == majority {
                sum += tensor[element] * weight
                agreeing += 1
            }
            return sum / max(agreeing, 1)
        }
    }

    /// Σ wᵢ·tᵢ element by element.
    static func weightedSum(_ tensors: [[Float]], weights: [Float]) -> [Float] {
        (0..<tensors[0].count).map { element in
            var sum: Float = 0
            for (tensor, weight) in zip(tensors, weights) { sum += tensor[element] * weight }
            return sum
        }
    }

    private func prune(_ values: [Float], mask: (Double) throws -> [Float]) throws -> [Float] {
        switch pruning {
        case .none:
            return values
        case .magnitude(let density):
            guard density < 1 else { return values }
            let kept = Int(density * Double(values.count))
            let order = values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }
            var result = [Float](repeating: 0, count: values.count)
            for index in order.prefix(kept) { result[index] = values[index] }
            return result
        case .random(let density):
            guard density < 1 else { return values }
            let keep = try mask(density)
            guard keep.count == values.count else {
                throw LoRA.AdapterError(description: "a DARE mask has \(keep.count) values for a tensor of \(values.count)")
            }
            return zip(values, keep).map { $0 * $1 / Float(density) }
        }
    }

    private static func sign(_ value: Float) -> Float { value > 0 ? 1 : value < 0 ? -1 : 0 }
}
