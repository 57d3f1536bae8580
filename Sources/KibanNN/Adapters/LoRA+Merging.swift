import KibanTensor

// Dim legend: C input features, D output features, r adapter rank.

extension LoRA {
    /// PEFT's `_generalized_task_arithmetic_weighted_adapter` (`linear`, `ties`, `dare_*`,
    /// `magnitude_prune`): with sᵢ each adapter's scaling, the A matrices weighted by
    /// sign(wᵢsᵢ)·√|wᵢsᵢ| and the B matrices weighted by √|wᵢsᵢ| are each combined by `merge`,
    /// A before B. Returns A: (r, C) and B: (D, r).
    static func factorCombination(
        _ parts: [WeightedPart], rank: Int, merge: TaskMerge, masks: any DAREMaskSource, layer: String
    ) throws -> (Tensor, Tensor) {
        if let other = parts.first(where: { $0.adapter.configuration.rank != rank }) {
            throw AdapterError(description: "\(layer): this combination needs rank \(rank), found adapter '\(other.name)' of rank \(other.adapter.configuration.rank)")
        }
        let scaled = parts.map { $0.weight * Double($0.adapter.scaling) }
        let roots = scaled.map { Float(abs($0).squareRoot()) }
        func combine(_ factor: DAREMaskRequest.Factor, _ tensors: [Tensor], weights: [Float]) throws -> Tensor {
            let shape = tensors[0].shape
            let values = try merge(tensors.map { $0.toArray() }, weights: weights) { index, density in
                try masks.keepMask(for: DAREMaskRequest(layer: layer, adapter: parts[index].name, factor: factor, shape: shape, density: density))
            }
            return Tensor(shape: shape, values: values)
        }
        let down = try combine(.down, parts.map { $0.adapter.down.weight.value }, weights: zip(scaled, roots).map { $0 >= 0 ? $1 : -$1 })
        let up = try combine(.up, parts.map { $0.adapter.up.weight.value }, weights: roots)
        return (down, up)
    }

    /// PEFT's `svd` (`_svd_generalized_task_arithmetic_weighted_adapter`): ΔW = Σ wᵢ·sᵢ·Bᵢ·Aᵢ: (D, C)
    /// in float32 as PEFT forms it, decomposed in Double; B = U[:, :r]·diag(S[:r]): (D, r) and
    /// A = Vᵀ[:r]: (r, C), so B·A is the best rank-r approximation of ΔW. With `clamp`, both are
    /// clamped to ±(the `clamp` quantile of B's and A's entries together, interpolated linearly as
    /// `torch.quantile`). Returns A and B.
    static func svdCombination(
        _ parts: [WeightedPart], rank: Int, clamp: Double?, fullMatrices: Bool, layer: String
    ) throws -> (Tensor, Tensor) {
        let deltas = parts.map { $0.adapter.delta() }
        let (rows, columns) = (deltas[0].shape[0], deltas[0].shape[1])
        guard rank <= min(rows, columns) else {
            throw AdapterError(description: "\(layer): svd rank \(rank) exceeds min(D, C) = \(min(rows, columns))")
        }
        let delta = TaskMerge.weightedSum(deltas.map { $0.toArray() }, weights: parts.map { Float($0.weight) })
        let svd = try SingularValueDecomposition(delta.map(Double.init), rows: rows, columns: columns, fullMatrices: fullMatrices)
        var up = (0..<(rows * rank)).map { index in svd.u[(index / rank) * svd.uColumns + index % rank] * svd.singularValues[index % rank] }
        var down = Array(svd.vt.prefix(rank * columns))
        if let clamp {
            let limit = quantile(up + down, clamp)
            up = up.map { min(max($0, -limit), limit) }
            down = down.map { min(max($0, -limit), limit) }
        }
        return (Tensor(shape: [rank, columns], values: down.map(Float.init)), Tensor(shape: [rows, rank], values: up.map(Float.init)))
    }

    /// The q-quantile of `values`, interpolated linearly between the two nearest order statistics
    /// (`torch.quantile`'s default).
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let (below, above) = (Int(position.rounded(.down)), Int(position.rounded(.up)))
        return sorted[below] + (position - Double(below)) * (sorted[above] - sorted[below])
    }
}
