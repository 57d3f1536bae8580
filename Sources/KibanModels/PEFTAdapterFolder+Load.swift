import Foundation
import KibanFormats
import KibanNN
import KibanTensor

extension PEFTAdapterFolder {
    /// Reads a PEFT LoRA or DoRA adapter, attaches it as `name` to the Linear layers it names (with
    /// its `rank_pattern` and `alpha_pattern`), and loads its weights. Each of its `modules_to_save`
    /// (matched as PEFT does, by path suffix) gets a trainable copy for `name` that takes the saved
    /// weights, as PEFT loads them into `modules_to_save.<name>`; other adapters' copies and the
    /// original stay as they were.
    @discardableResult
    public static func load(into model: Module, from folder: URL, name: String = "default") throws -> LoRAConfiguration {
        let configURL = folder.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: configURL),
            let fields = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw AdapterError(description: "\(configURL.path): cannot read the adapter config") }
        guard (fields["peft_type"] as? String) == "LORA" else {
            throw AdapterError(description: "\(configURL.path): only LoRA and DoRA adapters (peft_type LORA) are supported")
        }
        guard let rank = fields["r"] as? Int, let alpha = (fields["lora_alpha"] as? NSNumber)?.floatValue else {
            throw AdapterError(description: "\(configURL.path): missing key 'r' or 'lora_alpha'")
        }
        let file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        let prefix = "base_model.model."
        let paths = Set(file.entries.keys.compactMap { key -> String? in
            guard key.hasPrefix(prefix), key.hasSuffix(".lora_A.weight") else { return nil }
            return String(key.dropFirst(prefix.count).dropLast(".lora_A.weight".count))
        })
        let pattern = { (key: String) in fields[key] as? [String: NSNumber] ?? [:] }
        let configuration = LoRAConfiguration(
            rank: rank, alpha: alpha, dropout: (fields["lora_dropout"] as? NSNumber)?.floatValue ?? 0,
            rankStabilized: fields["use_rslora"] as? Bool ?? false,
            targetModules: paths.sorted().map { "^" + NSRegularExpression.escapedPattern(for: $0) + "$" },
            useDoRA: fields["use_dora"] as? Bool ?? false,
            modulesToSave: (fields["modules_to_save"] as? [String] ?? []).map { NSRegularExpression.escapedPattern(for: $0) + "$" },
            rankPattern: pattern("rank_pattern").mapValues(\.intValue), alphaPattern: pattern("alpha_pattern").mapValues(\.floatValue))
        try LoRA.apply(to: model, configuration: configuration, name: name, generator: RandomGenerator(seed: 0))
        let saved = model.modulesWithAdapterCopies().filter { $0.module.adapterCopies?.holds(name) == true }.map(\.path)
        var weights: [String: Tensor] = [:]
        for key in file.entries.keys {
            guard key.hasPrefix(prefix) else { throw AdapterError(description: "\(folder.path): unexpected key '\(key)'") }
            weights[parameterName(String(key.dropFirst(prefix.count)), adapter: name, modulesToSave: saved)] = try file.tensor(key)
        }
        let report = try model.load(stateDict: weights, strict: false)
        let adapterKeys = ["lora_A", "lora_B", "lora_magnitude_vector", "modules_to_save"].map { ".\($0).\(name)." }
        let missing = report.missing.filter { key in adapterKeys.contains { key.contains($0) } }
        guard report.unexpected.isEmpty, report.misShaped.isEmpty, missing.isEmpty else {
            throw AdapterError(description: "\(folder.path): adapter does not fit the model:\n\(report)")
        }
        return configuration
    }

    /// Kiban's parameter name for a file key without `base_model.model.`: `….lora_A.weight` →
    /// `….lora_A.<adapter>.weight` (and lora_B), `….lora_magnitude_vector` (or the older
    /// `….lora_magnitude_vector.weight`) → `….lora_magnitude_vector.<adapter>.weight`, and
    /// `<module>.<key>` of a module in `modulesToSave` → `<module>.modules_to_save.<adapter>.<key>`;
    /// anything else keeps its name.
    static func parameterName(_ key: String, adapter: String, modulesToSave: [String]) -> String {
        for kind in ["lora_A", "lora_B"] where key.hasSuffix(".\(kind).weight") {
            return key.dropLast("\(kind).weight".count) + "\(kind).\(adapter).weight"
        }
        for suffix in [".lora_magnitude_vector", ".lora_magnitude_vector.weight"] where key.hasSuffix(suffix) {
            return key.dropLast(suffix.count) + ".lora_magnitude_vector.\(adapter).weight"
        }
        if let module = modulesToSave.first(where: { key.hasPrefix($0 + ".") }) {
            return "\(module).modules_to_save.\(adapter)." + key.dropFirst(module.count + 1)
        }
        return key
    }
}
