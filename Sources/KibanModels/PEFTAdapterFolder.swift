import Foundation
import KibanIO
import KibanNN
import KibanTensor

/// LoRA adapters in PEFT's on-disk format: `adapter_config.json` + `adapter_model.safetensors`
/// with keys `base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`, so adapters move
/// between Kiban and `PeftModel.from_pretrained`.
public enum PEFTAdapterFolder {
    public struct AdapterError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes the adapter `name` of every Linear in `model` that has one.
    public static func save(model: Module, configuration: LoRAConfiguration, name: String = "default", baseModel: String = "", to folder: URL) throws {
        var tensors: [String: SafeTensorsValue] = [:]
        var paths: [String] = []
        for (path, module) in model.namedModules() {
            guard let linear = module as? Linear, let adapter = linear.adapters.first(where: { $0.name == name })?.adapter else { continue }
            tensors["base_model.model.\(path).lora_A.weight"] = .float32(adapter.down.weight.value)
            tensors["base_model.model.\(path).lora_B.weight"] = .float32(adapter.up.weight.value)
            paths.append(path)
        }
        guard !paths.isEmpty else { throw AdapterError(description: "\(folder.path): the model has no adapter named '\(name)'") }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "peft_type": "LORA", "r": configuration.rank, "lora_alpha": Double(configuration.alpha),
            "lora_dropout": Double(configuration.dropout), "use_rslora": configuration.rankStabilized, "target_modules": paths,
            "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "use_dora": false,
            "base_model_name_or_path": baseModel, "task_type": NSNull(), "modules_to_save": NSNull(),
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: folder.appendingPathComponent("adapter_config.json"), options: .atomic)
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent("adapter_model.safetensors"))
    }

    /// Reads a PEFT LoRA adapter, attaches it as `name` to the Linear layers it names, and loads its weights.
    @discardableResult
    public static func load(into model: Module, from folder: URL, name: String = "default") throws -> LoRAConfiguration {
        let configURL = folder.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: configURL),
            let fields = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw AdapterError(description: "\(configURL.path): cannot read the adapter config") }
        guard (fields["peft_type"] as? String) == "LORA", (fields["use_dora"] as? Bool) != true else {
            throw AdapterError(description: "\(configURL.path): only plain LoRA adapters (peft_type LORA, use_dora false) are supported")
        }
        guard let rank = fields["r"] as? Int, let alpha = (fields["lora_alpha"] as? NSNumber)?.floatValue else {
            throw AdapterError(description: "\(configURL.path): missing key 'r' or 'lora_alpha'")
        }
        let file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        let paths = Set(file.entries.keys.compactMap { key -> String? in
            guard key.hasPrefix("base_model.model."), key.hasSuffix(".lora_A.weight") else { return nil }
            return String(key.dropFirst("base_model.model.".count).dropLast(".lora_A.weight".count))
        })
        let configuration = LoRAConfiguration(
            rank: rank, alpha: alpha, dropout: (fields["lora_dropout"] as? NSNumber)?.floatValue ?? 0,
            rankStabilized: fields["use_rslora"] as? Bool ?? false,
            targetModules: paths.sorted().map { "^" + NSRegularExpression.escapedPattern(for: $0) + "$" })
        try LoRA.apply(to: model, configuration: configuration, name: name, generator: RandomGenerator(seed: 0))
        var weights: [String: Tensor] = [:]
        for path in paths {
            weights["\(path).lora_A.\(name).weight"] = try file.tensor("base_model.model.\(path).lora_A.weight")
            weights["\(path).lora_B.\(name).weight"] = try file.tensor("base_model.model.\(path).lora_B.weight")
        }
        let report = try model.load(stateDict: weights, strict: false)
        guard report.unexpected.isEmpty, report.misShaped.isEmpty else {
            throw AdapterError(description: "\(folder.path): adapter does not fit the model:\n\(report)")
        }
        return configuration
    }
}
