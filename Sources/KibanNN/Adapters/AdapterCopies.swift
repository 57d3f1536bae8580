import KibanTensor

/// One module's copies per adapter, as PEFT's `ModulesToSaveWrapper` keeps a module of
/// `modules_to_save`: the values the module had when it was wrapped stay, frozen, as the original
/// (`<path>.original_module.<key>`); each adapter trains its own copy of them
/// (`<path>.modules_to_save.<adapter>.<key>`); and the module computes with the active adapter's
/// copy, or with the original when no adapter or one without a copy is active.
///
/// The module's own parameters stand in for the selected copy (reading and writing its values),
/// so its forward pass is unchanged; ``Module/namedParameters(prefix:)`` lists the original and the
/// copies in their place. Tied keys inside the module share one copy.
public final class AdapterCopies {
    /// The module's parameters under their keys inside it, as its forward pass reads them.
    let live: [(key: String, parameter: Parameter)]
    /// The values at wrapping time, one entry per `live` entry (tied keys share a parameter).
    let original: [Parameter]
    /// Each adapter's copy, one entry per `live` entry, in the order the copies were made.
    private var copies: [(adapter: String, parameters: [Parameter])] = []
    /// The adapter whose copy the module computes with; nil: the original.
    public private(set) var activeAdapter: String?

    /// Wraps the parameters `live` of one module: the original takes their current values (frozen)
    /// and they stand in for it.
    init(live: [(key: String, parameter: Parameter)]) {
        self.live = live
        original = Self.duplicated(live.map(\.parameter))
        for parameter in original { parameter.isFrozen = true }
        select(original)
    }

    /// The adapters that have a copy, in the order the copies were made.
    public var adapterNames: [String] { copies.map(\.adapter) }

    /// Whether `adapter` has a copy here.
    public func holds(_ adapter: String) -> Bool { copies.contains { $0.adapter == adapter } }

    /// `adapter`'s copy under the module's own keys (what PEFT saves for it); nil when it has none.
    public func parameters(of adapter: String) -> [(key: String, parameter: Parameter)]? {
        copies.first { $0.adapter == adapter }.map { copy in zip(live, copy.parameters).map { ($0.key, $1) } }
    }

    /// The original and every copy under PEFT's live names.
    func namedParameters(prefix: String) -> [(name: String, parameter: Parameter)] {
        zip(live, original).map { (name: prefix + "original_module." + $0.key, parameter: $1) }
            + copies.flatMap { adapter, parameters in
                zip(live, parameters).map { (name: prefix + "modules_to_save.\(adapter)." + $0.key, parameter: $1) }
            }
    }

    /// Adds a copy of the original for `adapter`, trainable or frozen (PEFT copies the original
    /// module, whichever adapter is active).
    func addCopy(for adapter: String, trainable: Bool) {
        let parameters = Self.duplicated(original)
        for parameter in parameters { parameter.isFrozen = !trainable }
        copies.append((adapter, parameters))
    }

    /// Removes `adapter`'s copy; the module computes with the original if it was active.
    func removeCopy(of adapter: String) {
        copies.removeAll { $0.adapter == adapter }
        if activeAdapter == adapter { activate(nil) }
    }

    /// Computes with `adapter`'s copy when it has one, else with the original.
    func activate(_ adapter: String?) {
        let copy = copies.first { $0.adapter == adapter }
        activeAdapter = copy?.adapter
        select(copy?.parameters ?? original)
    }

    /// Ends the wrapping: the module's own parameters take the original's values back.
    func unwrap() {
        withNoGrad {
            for ((_, parameter), source) in zip(live, original) {
                parameter.standIn = nil
                parameter.value.assign(source.value)
            }
        }
    }

    private func select(_ parameters: [Parameter]) {
        for ((_, parameter), target) in zip(live, parameters) { parameter.standIn = target }
    }

    /// A duplicate of each parameter, tied entries (the same object twice) duplicated once.
    private static func duplicated(_ parameters: [Parameter]) -> [Parameter] {
        var copies: [ObjectIdentifier: Parameter] = [:]
        return parameters.map { parameter in
            if let copy = copies[ObjectIdentifier(parameter)] { return copy }
            let copy = parameter.duplicate()
            copies[ObjectIdentifier(parameter)] = copy
            return copy
        }
    }
}
