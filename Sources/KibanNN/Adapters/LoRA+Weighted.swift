import Foundation
import KibanTensor

// Dim legend: C input features, D output features, r adapter rank.

extension LoRA {
    /// How ``addWeightedAdapter(to:adapters:weights:name:combination:density:majoritySign:svdRank:svdClamp:svdFullMatrices:masks:)``
    /// combines adapters (PEFT's `combination_type`). With sᵢ each adapter's scaling: `linear`,
    /// `ties`, `dare_linear`, `dare_ties` and `magnitude_prune` combine the A matrices, weighted by
    /// sign(wᵢsᵢ)·√|wᵢsᵢ|, and the B matrices, weighted by √|wᵢsᵢ|, separately, so B·A gains
    /// cross terms and only approximates Σ wᵢ·ΔWᵢ; they need adapters of one rank. `cat` and `svd`
    /// work on the updates themselves.
    public enum Combination: String, CaseIterable, Sendable {
        /// A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ, B = Σ √|wᵢsᵢ|·Bᵢ: cheap, but rough.
        case linear
        /// A = [w₁s₁·A₁; w₂s₂·A₂; …] stacked by rows, B = [B₁ B₂ …] by columns: B·A = Σ wᵢ·ΔWᵢ
        /// exactly, at the sum of the ranks.
        case cat
        /// The best rank-r approximation of Σ wᵢ·ΔWᵢ by truncated SVD: B = U·S, A = Vᵀ.
        case svd
        /// TIES: keep each matrix's `density` fraction of largest magnitudes, elect a sign per
        /// element, and average the weighted values that agree with it.
        case ties
        /// DARE: keep each element with probability `density` (rescaled by 1/density), then sum.
        case dareLinear = "dare_linear"
        /// DARE's random pruning followed by TIES's sign election and disjoint mean.
        case dareTies = "dare_ties"
        /// TIES's magnitude pruning followed by the weighted sum.
        case magnitudePrune = "magnitude_prune"

        /// The combination PEFT calls `name` (e.g. `dare_ties`); throws for a name Kiban lacks.
        public init(peftName name: String) throws {
            guard let combination = Combination(rawValue: name) else {
                throw AdapterError(
                    description: "unknown combination_type '\(name)': expected one of \(Combination.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = combination
        }

        /// Whether it prunes (and so needs a density).
        var prunes: Bool { [.ties, .dareLinear, .dareTies, .magnitudePrune].contains(self) }

        /// The per-element rule that combines the tensors of one kind (A, B or ΔW); the pruning
        /// combinations need `density` (``checkOptions(_:density:svdRank:svdClamp:)`` makes sure).
        func merge(density: Double?, majoritySign: MajoritySign) -> TaskMerge {
            switch self {
            case .linear, .cat, .svd: TaskMerge(pruning: .none, election: nil)
            case .ties: TaskMerge(pruning: .magnitude(density: density!), election: majoritySign)
            case .dareLinear: TaskMerge(pruning: .random(density: density!), election: nil)
            case .dareTies: TaskMerge(pruning: .random(density: density!), election: majoritySign)
            case .magnitudePrune: TaskMerge(pruning: .magnitude(density: density!), election: nil)
            }
        }
    }

    /// Adds an adapter `name` that combines `adapters` with `weights` exactly as PEFT's
    /// `add_weighted_adapter` does, on every Linear that holds at least one of them, and returns
    /// its configuration. As in PEFT, it inherits dropout, rsLoRA and DoRA from the first adapter,
    /// its α equals its rank (so scaling is 1, or √r with rsLoRA), it is frozen, the active adapter
    /// does not change, and a single adapter is always combined linearly. Its rank is the adapters'
    /// common rank (`linear`, `ties`, `dare_*`, `magnitude_prune`), the sum of each adapter's largest
    /// rank (`cat`, zero-padded on layers that lack an adapter) or `svdRank`, by default the largest
    /// of them (`svd`). A DoRA result starts its magnitude at ‖W‖ per row, as PEFT's freshly
    /// initialised adapter has it. Where the first adapter keeps a copy of a module of
    /// `modules_to_save`, the result gets a frozen copy of that module's original, as in PEFT.
    ///
    /// - Parameters:
    ///   - density: the fraction of elements pruning keeps, in [0, 1] (DARE: (0, 1]; 1 prunes
    ///     nothing); required by the pruning combinations, refused by the others.
    ///   - majoritySign: how `ties` and `dare_ties` elect signs.
    ///   - svdRank, svdClamp: `svd` only: the result's rank, and the quantile q ∈ [0, 1] of the
    ///     entries of B and A (together) at which both are clamped to ±quantile.
    ///   - svdFullMatrices: `svd` only: decompose with square U and Vᵀ, as PEFT's default does
    ///     (the truncated factors are the same but for rounding). PEFT's `svd_driver` picks a
    ///     cuSOLVER routine and has no CPU counterpart.
    ///   - masks: where `dare_linear` and `dare_ties` take their random keep-masks from.
    /// - Throws: ``AdapterError`` for an unknown adapter, a taken name, a merged layer, weights that
    ///   do not match the adapters, ranks that cannot be combined, an option that is missing, out
    ///   of range or not used by `combination`, or two adapters with copies of one module to save.
    @discardableResult
    public static func addWeightedAdapter(
        to model: Module, adapters names: [String], weights: [Float], name: String, combination: Combination,
        density: Double? = nil, majoritySign: MajoritySign = .total, svdRank: Int? = nil, svdClamp: Double? = nil,
        svdFullMatrices: Bool = true, masks: any DAREMaskSource = RandomGenerator(seed: 0)
    ) throws -> LoRAConfiguration {
        guard !names.isEmpty, names.count == weights.count else {
            throw AdapterError(description: "add_weighted_adapter needs one weight per adapter, got \(names.count) adapters and \(weights.count) weights")
        }
        try checkOptions(combination, density: density, svdRank: svdRank, svdClamp: svdClamp)
        let layers = model.namedModules().compactMap { path, module in
            (module as? Linear).flatMap { linear in names.contains(where: linear.holds) ? (path: path, linear: linear) : nil }
        }
        let saved = model.modulesWithAdapterCopies()
        if let taken = layers.first(where: { $0.linear.holds(name) }).map(\.path) ?? saved.first(where: { $0.module.adapterCopies!.holds(name) })?.path {
            throw AdapterError(description: "\(taken) already holds an adapter named '\(name)'")
        }
        if let merged = layers.first(where: { $0.linear.isMerged }) {
            throw AdapterError(description: "\(merged.path) has a merged adapter: unmerge before adding '\(name)'")
        }
        if let shared = saved.first(where: { module in names.filter { module.module.adapterCopies!.holds($0) }.count > 1 }) {
            throw AdapterError(description: "\(shared.path) keeps copies for several of \(names) (modules_to_save): they cannot be combined")
        }
        var ranks: [Int] = []  // each adapter's largest rank (PEFT: max(r, *rank_pattern.values()))
        for adapter in names {
            let found = layers.compactMap { $0.linear.adapters.first { $0.name == adapter }?.adapter.configuration.rank }
            guard let largest = found.max() else { throw AdapterError(description: "no layer holds an adapter named '\(adapter)'") }
            ranks.append(largest)
        }
        let combination = names.count == 1 ? .linear : combination
        let rank: Int
        switch combination {
        case .cat: rank = ranks.reduce(0, +)
        case .svd: rank = svdRank ?? ranks.max()!
        default:
            guard Set(ranks).count == 1 else {
                throw AdapterError(
                    description: "\(combination.rawValue) combination needs adapters of one rank, got \(zip(names, ranks).map { "\($0): \($1)" })")
            }
            rank = ranks[0]
        }
        let first = layers.lazy.compactMap { $0.linear.adapters.first { $0.name == names[0] }?.adapter.configuration }.first!
        let configuration = LoRAConfiguration(
            rank: rank, alpha: Float(rank), dropout: first.dropout, rankStabilized: first.rankStabilized,
            targetModules: layers.map { "^" + NSRegularExpression.escapedPattern(for: $0.path) + "$" }, useDoRA: first.useDoRA)
        let merge = combination.merge(density: density, majoritySign: majoritySign)
        var combined: [(linear: Linear, adapter: LoRAAdapter)] = []
        for (path, linear) in layers {
            let parts = zip(names, weights).compactMap { adapterName, weight in
                linear.adapters.first { $0.name == adapterName }.map { WeightedPart(name: adapterName, adapter: $0.adapter, weight: Double(weight)) }
            }
            let (down, up): (Tensor, Tensor)
            switch combination {
            case .cat: (down, up) = catCombination(parts, rank: rank)
            case .svd: (down, up) = try svdCombination(parts, rank: rank, clamp: svdClamp, fullMatrices: svdFullMatrices, layer: path)
            default: (down, up) = try factorCombination(parts, rank: rank, merge: merge, masks: masks, layer: path)
            }
            let adapter = LoRAAdapter(base: linear, configuration: try configuration.resolved(for: path), generator: RandomGenerator(seed: 0))
            withNoGrad {
                adapter.down.weight.value.assign(down)
                adapter.up.weight.value.assign(up)
            }
            adapter.freeze()
            combined.append((linear, adapter))
        }
        for (linear, adapter) in combined { linear.attach(adapter, name: name, activate: false) }
        for (_, module) in saved where module.adapterCopies!.holds(names[0]) {
            module.addAdapterCopy(name, trainable: false, activate: false)
        }
        return configuration
    }

    /// Refuses options that `combination` lacks, needs but misses, or that lie out of range.
    static func checkOptions(_ combination: Combination, density: Double?, svdRank: Int?, svdClamp: Double?) throws {
        let kind = combination.rawValue
        if combination.prunes {
            guard let density else { throw AdapterError(description: "\(kind) combination needs a density") }
            let dare = combination == .dareLinear || combination == .dareTies
            guard dare ? density > 0 && density <= 1 : density >= 0 && density <= 1 else {
                throw AdapterError(description: "\(kind) density must lie in \(dare ? "(0, 1]" : "[0, 1]"), got \(density)")
            }
        } else if density != nil {
            throw AdapterError(description: "\(kind) combination does not prune: density applies to ties, dare_linear, dare_ties and magnitude_prune")
        }
        if combination != .svd, svdRank != nil || svdClamp != nil {
            throw AdapterError(description: "\(kind) combination takes no svd_rank or svd_clamp")
        }
        if let svdRank, svdRank < 1 { throw AdapterError(description: "svd_rank must be at least 1, got \(svdRank)") }
        if let svdClamp, !(0...1).contains(svdClamp) { throw AdapterError(description: "svd_clamp is a quantile in [0, 1], got \(svdClamp)") }
    }

    /// One adapter of a layer with its user weight wᵢ.
    struct WeightedPart {
        let name: String
        let adapter: LoRAAdapter
        let weight: Double
    }

    /// PEFT's `cat`: A: (r, C) = [w₁s₁·A₁; w₂s₂·A₂; …; 0], B: (D, r) = [B₁ B₂ … 0], zero-padded to `rank`.
    static func catCombination(_ parts: [WeightedPart], rank: Int) -> (Tensor, Tensor) {
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
