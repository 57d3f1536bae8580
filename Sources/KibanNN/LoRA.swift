import Foundation
import KibanTensor

// Dim legend: C input features, D output features, r adapter rank.

/// Hyper-parameters of a LoRA adapter (field names as PEFT's `LoraConfig`).
public struct LoRAConfiguration: Codable, Equatable, Sendable {
    /// r: the rank of the update B·A.
    public var rank = 8
    /// α: the update is scaled by α/r (or α/√r with rsLoRA).
    public var alpha: Float = 16
    /// Dropout on the adapter's input (training only).
    public var dropout: Float = 0
    /// Scale by α/√r instead of α/r (rank-stabilised LoRA).
    public var rankStabilized = false
    /// Regular expressions matched against each Linear's full dotted path, e.g.
    /// `attention\.self\.(query|value)$`.
    public var targetModules: [String] = []

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, rankStabilized: Bool = false, targetModules: [String] = []) {
        (self.rank, self.alpha, self.dropout, self.rankStabilized, self.targetModules) = (rank, alpha, dropout, rankStabilized, targetModules)
    }

    enum CodingKeys: String, CodingKey {
        case rank = "r", alpha = "lora_alpha", dropout = "lora_dropout", rankStabilized = "use_rslora"
        case targetModules = "target_modules"
    }

    /// The factor applied to B·A.
    public var scaling: Float { rankStabilized ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
}

/// A low-rank update ΔW = scaling · B·A attached to a ``Linear`` (A: (r, C), uniform ±1/√C as
/// PEFT's Kaiming init; B: (D, r), zero, so the wrapped layer starts out unchanged).
public final class LoRAAdapter: Module {
    /// `lora_A.<name>`: (r, C).
    public let down: Linear
    /// `lora_B.<name>`: (D, r).
    public let up: Linear
    public let scaling: Float
    let dropout: Dropout

    init(inputs: Int, outputs: Int, configuration: LoRAConfiguration, generator: RandomGenerator) {
        down = Linear(inputs, configuration.rank, bias: false, initialization: .uniformFanIn, generator: generator)
        up = Linear(configuration.rank, outputs, bias: false, initialization: .normal(std: 0), generator: generator)
        scaling = configuration.scaling
        dropout = Dropout(configuration.dropout, generator: generator)
    }

    override public var children: [(key: String, module: Module)] { [("dropout", dropout), ("down", down), ("up", up)] }

    /// x: (…, C) → scaling · B·A·dropout(x): (…, D).
    func callAsFunction(_ x: Tensor) -> Tensor {
        up(down(dropout(x))) * scaling
    }

    /// scaling · B·A: (D, C).
    func delta() -> Tensor {
        withNoGrad { up.weight.value.matmul(down.weight.value) * scaling }
    }
}

/// Attaching, merging and removing LoRA adapters on a model's Linear layers.
public enum LoRA {
    public struct NoMatch: Error, CustomStringConvertible {
        public let description: String
    }

    /// Attaches an adapter named `name` to every Linear whose dotted path matches one of the
    /// configuration's patterns, freezes every other parameter (except modules whose path matches
    /// `trainable`, PEFT's `modules_to_save`), and returns the wrapped paths. Throws when nothing matches.
    @discardableResult
    public static func apply(
        to model: Module, configuration: LoRAConfiguration, name: String = "default", trainable: [String] = [],
        generator: RandomGenerator
    ) throws -> [String] {
        let patterns = try configuration.targetModules.map { try NSRegularExpression(pattern: $0) }
        let keep = try trainable.map { try NSRegularExpression(pattern: $0) }
        let matches = { (path: String, expressions: [NSRegularExpression]) in
            expressions.contains { $0.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil }
        }
        model.freeze()
        var wrapped: [String] = []
        for (path, module) in model.namedModules() {
            if matches(path, keep) { module.unfreeze() }
            guard let linear = module as? Linear, matches(path, patterns) else { continue }
            linear.attach(
                LoRAAdapter(inputs: linear.weight.shape[1], outputs: linear.weight.shape[0], configuration: configuration, generator: generator),
                name: name)
            wrapped.append(path)
        }
        guard !wrapped.isEmpty else {
            throw NoMatch(description: "no Linear layer matches target_modules \(configuration.targetModules)")
        }
        return wrapped
    }
}

extension Linear {
    /// Adds `adapter` under `name` and makes it the active one.
    public func attach(_ adapter: LoRAAdapter, name: String) {
        tensorCheck(!isMerged, "lora", "unmerge before attaching adapter '\(name)'")
        adapters.append((name, adapter))
        activeAdapter = name
    }

    /// Folds the active adapter into the weight (W += scaling·B·A) for adapter-free inference.
    public func merge() {
        guard let adapter = active, !isMerged else { return }
        withNoGrad { weight.value.addInPlace(adapter.delta()) }
        isMerged = true
    }

    /// Undoes ``merge()`` (W −= scaling·B·A).
    public func unmerge() {
        guard let adapter = active, isMerged else { return }
        withNoGrad { weight.value.addInPlace(-adapter.delta()) }
        isMerged = false
    }

    var active: LoRAAdapter? { adapters.first { $0.name == activeAdapter }?.adapter }
}
