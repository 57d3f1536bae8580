import Foundation
import KibanTensor

// Dim legend: C input features, D output features, r adapter rank.

/// Hyper-parameters of a LoRA or DoRA adapter (field names as PEFT's `LoraConfig`).
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
    /// DoRA (weight-decomposed LoRA): each adapted Linear also learns a magnitude per output
    /// feature, and its weight becomes m ⊙ (W + ΔW) / ‖W + ΔW‖ row by row (PEFT's `use_dora`).
    public var useDoRA = false
    /// Regular expressions matched against module paths: modules trained in full alongside the
    /// adapter and saved with it, e.g. `^classifier$` (PEFT's `modules_to_save`).
    public var modulesToSave: [String] = []
    /// Ranks for particular layers (PEFT's `rank_pattern`): a key is a regular expression that must
    /// match a Linear's whole path or a dotted suffix of it.
    public var rankPattern: [String: Int] = [:]
    /// α for particular layers (PEFT's `alpha_pattern`), keys as in ``rankPattern``.
    public var alphaPattern: [String: Float] = [:]

    public init(
        rank: Int = 8, alpha: Float = 16, dropout: Float = 0, rankStabilized: Bool = false, targetModules: [String] = [],
        useDoRA: Bool = false, modulesToSave: [String] = [], rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:]
    ) {
        (self.rank, self.alpha, self.dropout, self.rankStabilized, self.targetModules) = (rank, alpha, dropout, rankStabilized, targetModules)
        (self.useDoRA, self.modulesToSave, self.rankPattern, self.alphaPattern) = (useDoRA, modulesToSave, rankPattern, alphaPattern)
    }

    enum CodingKeys: String, CodingKey {
        case rank = "r", alpha = "lora_alpha", dropout = "lora_dropout", rankStabilized = "use_rslora"
        case targetModules = "target_modules", useDoRA = "use_dora", modulesToSave = "modules_to_save"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
    }

    /// Missing keys take the defaults above.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LoRAConfiguration()
        rank = try c.decodeIfPresent(Int.self, forKey: .rank) ?? d.rank
        alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? d.alpha
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
        rankStabilized = try c.decodeIfPresent(Bool.self, forKey: .rankStabilized) ?? d.rankStabilized
        targetModules = try c.decodeIfPresent([String].self, forKey: .targetModules) ?? d.targetModules
        useDoRA = try c.decodeIfPresent(Bool.self, forKey: .useDoRA) ?? d.useDoRA
        modulesToSave = try c.decodeIfPresent([String].self, forKey: .modulesToSave) ?? d.modulesToSave
        rankPattern = try c.decodeIfPresent([String: Int].self, forKey: .rankPattern) ?? d.rankPattern
        alphaPattern = try c.decodeIfPresent([String: Float].self, forKey: .alphaPattern) ?? d.alphaPattern
    }

    /// The factor applied to B·A.
    public var scaling: Float { rankStabilized ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }

    /// The hyper-parameters of the Linear at `path`: rank and α from the first pattern key (in
    /// sorted order; PEFT takes the first in insertion order) that matches as PEFT's
    /// `get_pattern_key` does, `^(.*\.)?(key)$`; no patterns, targets or saved modules.
    func resolved(for path: String) throws -> LoRAConfiguration {
        func lookup<Value>(_ pattern: [String: Value]) throws -> Value? {
            for key in pattern.keys.sorted() {
                let expression = try NSRegularExpression(pattern: "^(.*\\.)?(\(key))$")
                if expression.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil { return pattern[key] }
            }
            return nil
        }
        return LoRAConfiguration(
            rank: try lookup(rankPattern) ?? rank, alpha: try lookup(alphaPattern) ?? alpha, dropout: dropout,
            rankStabilized: rankStabilized, useDoRA: useDoRA)
    }
}

/// A low-rank update ΔW = scaling · B·A attached to a ``Linear`` (A: (r, C), uniform ±1/√C as
/// PEFT's Kaiming init; B: (D, r), zero, so the wrapped layer starts out unchanged). With DoRA it
/// also holds the magnitude m: (D), initialised to the row norms ‖W + ΔW‖ of the base weight.
public final class LoRAAdapter: Module {
    /// `lora_A.<name>`: (r, C).
    public let down: Linear
    /// `lora_B.<name>`: (D, r).
    public let up: Linear
    /// `lora_magnitude_vector.<name>`: DoRA's magnitude per output feature; nil for plain LoRA.
    public let magnitude: DoRAMagnitude?
    public let scaling: Float
    /// This layer's hyper-parameters (``LoRAConfiguration/rankPattern`` and
    /// ``LoRAConfiguration/alphaPattern`` already applied).
    public let configuration: LoRAConfiguration
    let dropout: Dropout
    /// DoRA: ‖W + ΔW‖ per output feature when the adapter was merged, which unmerging divides out.
    var mergedNorm: Tensor?

    init(base: Linear, configuration: LoRAConfiguration, generator: RandomGenerator) {
        let (inputs, outputs) = (base.weight.shape[1], base.weight.shape[0])
        let (down, up) = (
            Linear(inputs, configuration.rank, bias: false, initialization: .uniformFanIn, generator: generator),
            Linear(configuration.rank, outputs, bias: false, initialization: .normal(std: 0), generator: generator)
        )
        (self.down, self.up, scaling, self.configuration) = (down, up, configuration.scaling, configuration)
        dropout = Dropout(configuration.dropout, generator: generator)
        magnitude = configuration.useDoRA
            ? DoRAMagnitude(withNoGrad { DoRA.weightNorm(base.weight.value, delta: up.weight.value.matmul(down.weight.value) * configuration.scaling) })
            : nil
    }

    override public var children: [(key: String, module: Module)] {
        [("dropout", dropout), ("down", down), ("up", up)] + (magnitude.map { [("magnitude", $0 as Module)] } ?? [])
    }

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

    /// A request that does not fit the adapters a model holds (an unknown or duplicate name, a
    /// merged layer, ranks that cannot be combined).
    public struct AdapterError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Attaches an adapter named `name` to every Linear whose dotted path matches one of the
    /// configuration's patterns (with its `rankPattern`/`alphaPattern` rank and α, DoRA when
    /// `useDoRA`), freezes every other parameter, gives the adapter its own trainable copy of each
    /// outermost module whose path matches `configuration.modulesToSave` or `trainable` (both PEFT's
    /// `modules_to_save`, see ``AdapterCopies``), makes the new adapter active on those layers and
    /// modules, and returns the adapted layers' paths. Throws, changing nothing, when nothing
    /// matches, a matching layer or module already holds an adapter called `name`, or a module to
    /// save cannot have copies (see ``modulesToSave(in:patterns:adapter:targets:)``).
    @discardableResult
    public static func apply(
        to model: Module, configuration: LoRAConfiguration, name: String = "default", trainable: [String] = [],
        generator: RandomGenerator
    ) throws -> [String] {
        let patterns = try configuration.targetModules.map { try NSRegularExpression(pattern: $0) }
        let targets = model.namedModules().compactMap { path, module in
            (module as? Linear).flatMap { matches(path, patterns) ? (path: path, linear: $0) : nil }
        }
        guard !targets.isEmpty else {
            throw NoMatch(description: "no Linear layer matches target_modules \(configuration.targetModules)")
        }
        if let taken = targets.first(where: { $0.linear.adapters.contains { $0.name == name } }) {
            throw AdapterError(description: "\(taken.path) already holds an adapter named '\(name)'")
        }
        if let merged = targets.first(where: { $0.linear.isMerged }) {
            throw AdapterError(description: "\(merged.path) has a merged adapter: unmerge before attaching '\(name)'")
        }
        let saved = try modulesToSave(
            in: model, patterns: configuration.modulesToSave + trainable, adapter: name, targets: targets.map(\.path))
        let layerConfigurations = try targets.map { try configuration.resolved(for: $0.path) }
        model.freeze()
        for (_, module) in saved { module.addAdapterCopy(name, trainable: true, activate: true) }
        for ((_, linear), layerConfiguration) in zip(targets, layerConfigurations) {
            linear.attach(LoRAAdapter(base: linear, configuration: layerConfiguration, generator: generator), name: name)
        }
        return targets.map(\.path)
    }

    /// Whether one of `expressions` matches somewhere in `path`.
    static func matches(_ path: String, _ expressions: [NSRegularExpression]) -> Bool {
        expressions.contains { $0.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil }
    }
}
