import KibanTensor

/// Several named adapters on one model: listing, switching and deleting them across a module tree
/// (PEFT's `set_adapter` and `delete_adapter`).
extension Module {
    /// The names of the adapters attached anywhere in this tree, in order of first appearance.
    public var adapterNames: [String] {
        var names: [String] = []
        for case let linear as Linear in namedModules().map(\.module) {
            for (name, _) in linear.adapters where !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// Makes `name` the active adapter of every Linear that holds it and switches adapters off on
    /// the Linear layers that do not, as PEFT's `set_adapter`; nil switches every adapter off. Each
    /// module of `modules_to_save` computes with `name`'s copy when it has one, else with its
    /// original. A layer with a merged adapter is unmerged first. Throws when nothing holds `name`.
    public func setActiveAdapter(_ name: String?) throws {
        let layers = adaptedLayers(), saved = modulesWithAdapterCopies()
        if let name, !layers.contains(where: { $0.holds(name) }), !saved.contains(where: { $0.module.adapterCopies!.holds(name) }) {
            throw LoRA.AdapterError(description: "no layer holds an adapter named '\(name)' (adapters: \(adapterNames))")
        }
        for linear in layers {
            linear.unmerge()
            linear.activeAdapter = name.flatMap { linear.holds($0) ? $0 : nil }
        }
        for (_, module) in saved { module.adapterCopies!.activate(name) }
    }

    /// Removes the adapter `name` from every Linear and its copy from every module of
    /// `modules_to_save`, as PEFT's `delete_adapter`. A layer whose active adapter it was falls back
    /// on its first remaining adapter (or none); a module that held a copy then computes, as in PEFT,
    /// with the copy of the adapter the layers now use (the first active one in tree order) if it
    /// has one, else with its original, and lists its own parameters again once no copy is left.
    /// Throws when nothing holds `name` or a layer has it merged.
    public func deleteAdapter(_ name: String) throws {
        let layers = adaptedLayers().filter { $0.holds(name) }
        let saved = modulesWithAdapterCopies().filter { $0.module.adapterCopies!.holds(name) }
        guard !layers.isEmpty || !saved.isEmpty else {
            throw LoRA.AdapterError(description: "no layer holds an adapter named '\(name)' (adapters: \(adapterNames))")
        }
        if layers.contains(where: { $0.isMerged && $0.activeAdapter == name }) {
            throw LoRA.AdapterError(description: "adapter '\(name)' is merged: unmerge it before deleting it")
        }
        for linear in layers {
            linear.adapters.removeAll { $0.name == name }
            if linear.activeAdapter == name { linear.activeAdapter = linear.adapters.first?.name }
        }
        let successor = adaptedLayers().lazy.compactMap(\.activeAdapter).first
        for (_, module) in saved {
            module.removeAdapterCopy(name)
            module.adapterCopies?.activate(successor)
        }
    }

    /// Folds each Linear's active adapter into its weight (PEFT's `merge_adapter`), so inference
    /// runs at the base model's cost; ``Linear/unmerge()`` undoes it layer by layer.
    public func mergeAdapters() {
        for linear in adaptedLayers() { linear.merge() }
    }

    /// Every Linear in this tree that holds at least one adapter.
    func adaptedLayers() -> [Linear] {
        namedModules().compactMap { $0.module as? Linear }.filter { !$0.adapters.isEmpty }
    }
}

extension Linear {
    /// Adds `adapter` under `name`, and makes it the active one when `activate` is true.
    public func attach(_ adapter: LoRAAdapter, name: String, activate: Bool = true) {
        tensorCheck(!isMerged, "lora", "unmerge before attaching adapter '\(name)'")
        tensorCheck(!holds(name), "lora", "this layer already holds an adapter named '\(name)'")
        adapters.append((name, adapter))
        if activate { activeAdapter = name }
    }

    /// Folds the active adapter into the weight for adapter-free inference: W += scaling·B·A, or
    /// for DoRA W ← m ⊙ (W + scaling·B·A) / ‖W + scaling·B·A‖ row by row.
    public func merge() {
        guard let adapter = active, !isMerged else { return }
        if let magnitude = adapter.magnitude {
            mergeDoRA(adapter, magnitude: magnitude)
        } else {
            withNoGrad { weight.value.addInPlace(adapter.delta()) }
        }
        isMerged = true
    }

    /// Undoes ``merge()``.
    public func unmerge() {
        guard let adapter = active, isMerged else { return }
        if let magnitude = adapter.magnitude {
            unmergeDoRA(adapter, magnitude: magnitude)
        } else {
            withNoGrad { weight.value.addInPlace(-adapter.delta()) }
        }
        isMerged = false
    }

    var active: LoRAAdapter? { adapters.first { $0.name == activeAdapter }?.adapter }

    func holds(_ name: String) -> Bool { adapters.contains { $0.name == name } }
}
