import Foundation
import KibanTensor

// Dim legend: C input features, D output features, r adapter rank.

extension LoRA {
    /// How ``addWeightedAdapter(to:adapters:weights:name:combination:)`` combines adapters
    /// (PEFT's `combination_type`).
    public enum Combination: String, Sendable {
        /// A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ, B = Σ √|wᵢsᵢ|·Bᵢ (sᵢ each adapter's scaling): cheap, but
        /// B·A gains cross terms, so it only approximates Σ wᵢ·ΔWᵢ. Every adapter needs the same rank.
        case linear
        /// A = [w₁s₁·A₁; w₂s₂·A₂; …] stacked by rows, B = [B₁ B₂ …] by columns: B·A = Σ wᵢ·ΔWᵢ
        /// exactly, at the sum of the ranks.
        case cat
    }

    /// Adds an adapter `name` that combines `adapters` with `weights` exactly as PEFT's
    /// `add_weighted_adapter` does, on every Linear that holds at least one of them, and returns
    /// its configuration. As in PEFT, it inherits dropout, rsLoRA and DoRA from the first adapter,
    /// its α equals its rank (so scaling is 1, or √r with rsLoRA), it is frozen, the active adapter
    /// does not change, and a single adapter is always combined linearly. Its rank is the adapters'
    /// common rank (`linear`) or the sum of each adapter's largest rank (`cat`, zero-padded on layers
    /// that lack an adapter). A DoRA result starts its magnitude at ‖W‖ per row, as PEFT's freshly
    /// initialised adapter has it.
    @discardableResult
    public static func addWeightedAdapter(
        to model: Module, adapters names: [String], weights: [Float], name: String, combination: Combination
    ) throws -> LoRAConfiguration {
        guard !names.isEmpty, names.count == weights.count else {
            throw AdapterError(description: "add_weighted_adapter needs one weight per adapter, got \(names.count) adapters and \(weights.count) weights")
        }
        let layers = model.namedModules().compactMap { path, module in
            (module as? Linear).flatMap { linear in names.contains(where: linear.holds) ? (path: path, linear: linear) : nil }
        }
        if let taken = layers.first(where: { $0.linear.holds(name) }) {
            throw AdapterError(description: "\(taken.path) already holds an adapter named '\(name)'")
        }
        if let merged = layers.first(where: { $0.linear.isMerged }) {
            throw AdapterError(description: "\(merged.path) has a merged adapter: unmerge before adding '\(name)'")
        }
        var ranks: [Int] = []  // each adapter's largest rank (PEFT: max(r, *rank_pattern.values()))
        for adapter in names {
            let found = layers.compactMap { $0.linear.adapters.first { $0.name == adapter }?.adapter.configuration.rank }
            guard let largest = found.max() else { throw AdapterError(description: "no layer holds an adapter named '\(adapter)'") }
            ranks.append(largest)
        }
        let combination = names.count == 1 ? .linear : combination
        if combination == .linear, Set(ranks).count != 1 {
            throw AdapterError(description: "linear combination needs adapters of one rank, got \(zip(names, ranks).map { "\($0): \($1)" })")
        }
        let rank = combination == .linear ? ranks[0] : ranks.reduce(0, +)
        let first = layers.lazy.compactMap { $0.linear.adapters.first { $0.name == names[0] }?.adapter.configuration }.first!
        let configuration = LoRAConfiguration(
            rank: rank, alpha: Float(rank), dropout: first.dropout, rankStabilized: first.rankStabilized,
            targetModules: layers.map { "^" + NSRegularExpression.escapedPattern(for: $0.path) + "$" }, useDoRA: first.useDoRA)
        for (path, linear) in layers {
            let parts = zip(names, weights).compactMap { adapterName, weight in
                linear.adapters.first { $0.name == adapterName }.map { (adapter: $0.adapter, weight: Double(weight)) }
            }
            let (down, up) = combination == .linear
                ? try linearCombination(parts, rank: rank, path: path) : catCombination(parts, rank: rank)
            let combined = LoRAAdapter(base: linear, configuration: try configuration.resolved(for: path), generator: RandomGenerator(seed: 0))
            withNoGrad {
                combined.down.weight.value.assign(down)
                combined.up.weight.value.assign(up)
            }
            combined.freeze()
            linear.attach(combined, name: name, activate: false)
        }
        return configuration
    }

    /// PEFT's `linear`: A: (r, C) = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ, B: (D, r) = Σ √|wᵢsᵢ|·Bᵢ.
    static func linearCombination(_ parts: [(adapter: LoRAAdapter, weight: Double)], rank: Int, path: String) throws -> (Tensor, Tensor) {
        if let other = parts.first(where: { $0.adapter.configuration.rank != rank }) {
            throw AdapterError(description: "\(path): linear combination needs rank \(rank), found an adapter of rank \(other.adapter.configuration.rank)")
        }
        return withNoGrad {
            var down: Tensor?, up: Tensor?
            for (adapter, weight) in parts {
                let weighted = weight * Double(adapter.scaling)
                let root = Float(abs(weighted).squareRoot())
                let a = adapter.down.weight.value * (weighted >= 0 ? root : -root), b = adapter.up.weight.value * root
                (down, up) = (down.map { $0 + a } ?? a, up.map { $0 + b } ?? b)
            }
            return (down!, up!)
        }
    }

    /// PEFT's `cat`: A: (r, C) = [w₁s₁·A₁; w₂s₂·A₂; …; 0], B: (D, r) = [B₁ B₂ … 0], zero-padded to `rank`.
    static func catCombination(_ parts: [(adapter: LoRAAdapter, weight: Double)], rank: Int) -> (Tensor, Tensor) {
        withNoGrad {
            var downs = parts.map { $0.adapter.down.weight.value * Float($0.weight * Double($0.adapter.scaling)) }
            var ups = parts.map { $0.adapter.up.weight.value }
            let used = downs.map { $0.shape[0] }.reduce(0, +)
            if used < rank {
                downs.append(Tensor.zeros([rank - used, downs[0].shape[1]]))
                ups.append(Tensor.zeros([ups[0].shape[0], rank - used]))
            }
            return (Tensor.concatenate(downs, axis: 0), Tensor.concatenate(ups, axis: 1))
        }
    }
}
