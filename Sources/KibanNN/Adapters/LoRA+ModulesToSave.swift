import Foundation
import KibanTensor

extension LoRA {
    /// The outermost modules of `model` (the root aside) whose path matches one of `patterns`, in
    /// tree order, checked for a copy per adapter `adapter`. Throws when one already holds a copy
    /// for `adapter`, overlaps (contains or lies inside) another module that keeps copies, contains
    /// an adapted Linear or one of the LoRA `targets`, or shares a parameter with a module outside
    /// it (a tied weight: its copies would untie it).
    static func modulesToSave(
        in model: Module, patterns: [String], adapter: String, targets: [String]
    ) throws -> [(path: String, module: Module)] {
        let expressions = try patterns.map { try NSRegularExpression(pattern: $0) }
        var result: [(path: String, module: Module)] = []
        for (path, module) in model.namedModules() where !path.isEmpty && matches(path, expressions) {
            if !result.contains(where: { path.hasPrefix($0.path + ".") }) { result.append((path, module)) }
        }
        let wrapped = model.modulesWithAdapterCopies()
        let inside = { (path: String, outer: String) in path == outer || path.hasPrefix(outer + ".") }
        for (path, module) in result {
            if module.adapterCopies?.holds(adapter) == true {
                throw AdapterError(description: "\(path) already holds a copy for adapter '\(adapter)'")
            }
            if let other = wrapped.first(where: { $0.path != path && (inside($0.path, path) || inside(path, $0.path)) }) {
                throw AdapterError(description: "modules_to_save \(path) overlaps \(other.path), which keeps copies per adapter")
            }
            let adapted = module.namedModules(prefix: path + ".").first { name, child in
                (child as? Linear).map { !$0.adapters.isEmpty || targets.contains(name) } ?? false
            }
            if let adapted {
                throw AdapterError(description: "modules_to_save \(path) contains the LoRA layer \(adapted.name)")
            }
            guard module.adapterCopies == nil else { continue }
            let own = Set(module.treeParameters().map { ObjectIdentifier($0.parameter) })
            if let tied = model.namedParameters().first(where: { !inside($0.name, path) && own.contains(ObjectIdentifier($0.parameter)) }) {
                throw AdapterError(description: "modules_to_save \(path) shares a parameter with \(tied.name): a copy would untie it")
            }
        }
        return result
    }
}

extension Module {
    /// The modules of this tree that keep copies per adapter (``AdapterCopies``), with their paths.
    public func modulesWithAdapterCopies() -> [(path: String, module: Module)] {
        namedModules().filter { $0.module.adapterCopies != nil }.map { (path: $0.name, module: $0.module) }
    }

    /// Gives `adapter` its own copy of this module's original values, wrapping the module first if
    /// needed; the copy is trainable or frozen, and active when `activate` is true.
    func addAdapterCopy(_ adapter: String, trainable: Bool, activate: Bool) {
        let copies = adapterCopies ?? AdapterCopies(live: treeParameters().map { (key: $0.name, parameter: $0.parameter) })
        adapterCopies = copies
        copies.addCopy(for: adapter, trainable: trainable)
        if activate { copies.activate(adapter) }
    }

    /// Removes `adapter`'s copy; once the last copy is gone the module computes with, and lists,
    /// its own parameters again, holding the original values.
    func removeAdapterCopy(_ adapter: String) {
        guard let copies = adapterCopies else { return }
        copies.removeCopy(of: adapter)
        if copies.adapterNames.isEmpty {
            copies.unwrap()
            adapterCopies = nil
        }
    }
}
