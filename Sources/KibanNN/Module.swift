import KibanTensor

/// A trainable tensor owned by a module. Its `value` is a leaf that requires a gradient unless
/// the parameter is frozen; ``ParameterBuffer`` may re-point `value` into a flat buffer.
public final class Parameter {
    private var ownValue: Tensor

    /// Set while the module holding this parameter keeps copies per adapter (``AdapterCopies``):
    /// the original or the active adapter's copy, which `value` then reads and writes.
    var standIn: Parameter?

    /// The current values (a leaf tensor).
    public var value: Tensor {
        get { standIn?.value ?? ownValue }
        set {
            guard let standIn else {
                ownValue = newValue
                ownValue.requiresGrad = !isFrozen
                return
            }
            standIn.value = newValue
        }
    }

    /// Frozen parameters take no gradient and are skipped by optimizers.
    public var isFrozen = false {
        didSet { ownValue.requiresGrad = !isFrozen }
    }

    /// Whether AdamW's weight decay applies by default; layers set it false for biases and
    /// normalisation weights, as Hugging Face's trainer does.
    public let decays: Bool

    /// A persistent buffer: saved and loaded with the parameters, never trained (e.g. rotary
    /// inverse frequencies). ``Module/unfreeze()`` leaves it frozen.
    public let isBuffer: Bool

    public init(_ value: Tensor, decays: Bool = true) {
        ownValue = value
        self.decays = decays
        self.isBuffer = false
        value.requiresGrad = true
    }

    private init(buffer value: Tensor) {
        ownValue = value
        self.decays = false
        self.isBuffer = true
        self.isFrozen = true
        value.requiresGrad = false
    }

    /// A frozen, non-trainable tensor that checkpoints still carry (PyTorch's persistent buffer).
    public static func buffer(_ value: Tensor) -> Parameter {
        Parameter(buffer: value)
    }

    public var shape: [Int] { value.shape }

    /// A new parameter (or buffer) with a copy of this one's values and the same weight-decay flag.
    func duplicate() -> Parameter {
        isBuffer ? .buffer(value.copied()) : Parameter(value.copied(), decays: decays)
    }
}

/// The base of every layer and model, in the manner of MLX-Swift's `Module`.
///
/// A subclass lists its parameters and child modules under their checkpoint keys by overriding
/// ``ownParameters`` and ``children``, next to the stored properties; dotted paths built from
/// those keys equal Hugging Face state-dict keys (`encoder.layer.0.attention.self.query.weight`).
/// The same `Parameter` object may appear under two keys (tied weights).
open class Module {
    /// Training mode (dropout active) or evaluation mode.
    public private(set) var isTraining = true

    /// This module's copies per adapter while it is one of the adapters' `modules_to_save`; nil
    /// otherwise. While set, ``namedParameters(prefix:)`` lists the copies, not the module's own parameters.
    public internal(set) var adapterCopies: AdapterCopies?

    public init() {}

    /// This module's own parameters by key (not its children's).
    open var ownParameters: [(key: String, parameter: Parameter)] { [] }

    /// Child modules by key, in a fixed order. List every child, including those without
    /// parameters (dropout): ``train(_:)`` and ``eval()`` reach modules through this list.
    open var children: [(key: String, module: Module)] { [] }

    /// Tied weights as transformers' `_tied_weights_keys` names them: alias key → source key, both
    /// relative to this module (e.g. `lm_head.decoder.weight` → `esm.embeddings.word_embeddings.weight`).
    /// `save_pretrained` writes only the source; see ``tiedAliases()``.
    open var tiedWeightKeys: [String: String] { [:] }

    /// Every parameter under its dotted path, depth first in declaration order. A tied parameter
    /// appears once per key. A module with ``adapterCopies`` contributes PEFT's live names instead:
    /// `<path>.original_module.<key>` and `<path>.modules_to_save.<adapter>.<key>`.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        if let adapterCopies { return adapterCopies.namedParameters(prefix: prefix) }
        return treeParameters(prefix: prefix)
    }

    /// The parameters this module's forward pass reads, under their keys in its own tree.
    func treeParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var result = ownParameters.map { (name: prefix + $0.key, parameter: $0.parameter) }
        for (key, child) in children {
            result += child.namedParameters(prefix: prefix + key + ".")
        }
        return result
    }

    /// Every distinct parameter once (the first key of a tied parameter names it).
    public func uniqueParameters() -> [(name: String, parameter: Parameter)] {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().filter { seen.insert(ObjectIdentifier($0.parameter)).inserted }
    }

    /// Parameters that are not frozen.
    public func trainableParameters() -> [(name: String, parameter: Parameter)] {
        uniqueParameters().filter { !$0.parameter.isFrozen }
    }

    /// Number of distinct scalar parameters (tied weights counted once).
    public var parameterCount: Int { uniqueParameters().map { $0.parameter.value.count }.reduce(0, +) }

    /// Every module in the tree with its dotted path ("" for this one).
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var result = [(name: prefix.isEmpty ? "" : String(prefix.dropLast()), module: self)]
        for (key, child) in children { result += child.namedModules(prefix: prefix + key + ".") }
        return result
    }

    /// Stops gradients to every parameter of this module and its children.
    public func freeze() {
        for (_, parameter) in namedParameters() { parameter.isFrozen = true }
    }

    /// Lets gradients reach every parameter of this module and its children again.
    public func unfreeze() {
        for (_, parameter) in namedParameters() where !parameter.isBuffer { parameter.isFrozen = false }
    }

    /// Switches this module and its children to training (`true`) or evaluation mode.
    public func train(_ training: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = training }
    }

    /// Evaluation mode: dropout off.
    public func eval() { train(false) }

    /// Values of every parameter by dotted name (tied parameters under each key).
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The full keys of this tree's ``tiedWeightKeys`` aliases that hold the same parameter as their
    /// source (an untied alias, such as Llama's `lm_head.weight` without `tie_word_embeddings`, is left out).
    public func tiedAliases() -> Set<String> {
        let parameters = Dictionary(namedParameters().map { ($0.name, $0.parameter) }, uniquingKeysWith: { first, _ in first })
        var aliases = Set<String>()
        for (path, module) in namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            for (alias, source) in module.tiedWeightKeys {
                guard let tied = parameters[prefix + alias], tied === parameters[prefix + source] else { continue }
                aliases.insert(prefix + alias)
            }
        }
        return aliases
    }

    /// Copies values into parameters by dotted name. A tied parameter loads from any of its keys
    /// (a Hugging Face folder stores it once). Strict loading (the default) stops with a list of
    /// every missing, unexpected and mis-shaped name; non-strict loading copies what matches and
    /// returns the same report.
    @discardableResult
    public func load(stateDict: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        let parameters = namedParameters()
        let known = Set(parameters.map(\.name))
        let given = Set(parameters.filter { stateDict[$0.name] != nil }.map { ObjectIdentifier($0.parameter) })
        var report = LoadReport(
            missing: parameters.filter { !given.contains(ObjectIdentifier($0.parameter)) }.map(\.name).sorted(),
            unexpected: stateDict.keys.filter { !known.contains($0) }.sorted(), misShaped: [])
        for (name, parameter) in parameters {
            guard let source = stateDict[name] else { continue }
            guard source.shape == parameter.shape else {
                report.misShaped.append("\(name): checkpoint \(describeShape(source.shape)), model \(describeShape(parameter.shape))")
                continue
            }
        }
        if strict && !report.isClean { throw report }
        for (name, parameter) in parameters {
            guard let source = stateDict[name], source.shape == parameter.shape else { continue }
            withNoGrad { parameter.value.assign(source) }
        }
        return report
    }
}

/// What a state-dict load found besides exact matches.
public struct LoadReport: Error, CustomStringConvertible, Equatable {
    public var missing: [String]
    public var unexpected: [String]
    public var misShaped: [String]

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && misShaped.isEmpty }

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { lines.append("unexpected: " + unexpected.joined(separator: ", ")) }
        if !misShaped.isEmpty { lines.append("mis-shaped: " + misShaped.joined(separator: "; ")) }
        return lines.isEmpty ? "all parameters matched" : lines.joined(separator: "\n")
    }
}
