import Foundation
import KibanFormats
import KibanNN
import KibanTensor

/// LoRA and DoRA adapters in PEFT's on-disk format, so adapters move between Kiban and
/// `PeftModel.from_pretrained`: `adapter_config.json` + `adapter_model.safetensors` with keys
/// `base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`, `.lora_magnitude_vector`
/// (DoRA), and the adapter's copy of each of its `modules_to_save` under
/// `base_model.model.<module path>.<parameter>` (PEFT's saved names: the live
/// `modules_to_save.<adapter>.` part dropped).
public enum PEFTAdapterFolder {
    public struct AdapterError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes the adapter `name` of every Linear in `model` that has one, plus `name`'s copy of every
    /// module that keeps one for it (their paths become the config's `modules_to_save`). `r` and
    /// `lora_alpha` come from `configuration`; layers whose adapter has another rank or α are listed
    /// in `rank_pattern` / `alpha_pattern` under their full path.
    public static func save(model: Module, configuration: LoRAConfiguration, name: String = "default", baseModel: String = "", to folder: URL) throws {
        var tensors: [String: SafeTensorsValue] = [:]
        var paths: [String] = [], rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]
        for (path, module) in model.namedModules() {
            guard let linear = module as? Linear, let adapter = linear.adapters.first(where: { $0.name == name })?.adapter else { continue }
            let prefix = "base_model.model.\(path)."
            tensors[prefix + "lora_A.weight"] = .float32(adapter.down.weight.value)
            tensors[prefix + "lora_B.weight"] = .float32(adapter.up.weight.value)
            if let magnitude = adapter.magnitude { tensors[prefix + "lora_magnitude_vector"] = .float32(magnitude.weight.value) }
            guard (adapter.magnitude != nil) == configuration.useDoRA, adapter.configuration.rankStabilized == configuration.rankStabilized else {
                throw AdapterError(description: "\(path): adapter '\(name)' does not match the configuration's use_dora / use_rslora")
            }
            if adapter.configuration.rank != configuration.rank { rankPattern[path] = adapter.configuration.rank }
            if adapter.configuration.alpha != configuration.alpha { alphaPattern[path] = Double(adapter.configuration.alpha) }
            paths.append(path)
        }
        guard !paths.isEmpty else { throw AdapterError(description: "\(folder.path): the model has no adapter named '\(name)'") }
        var saved: [String] = []
        for (path, module) in model.modulesWithAdapterCopies() {
            guard let copy = module.adapterCopies?.parameters(of: name) else { continue }
            for (key, parameter) in copy { tensors["base_model.model.\(path).\(key)"] = .float32(parameter.value) }
            saved.append(path)
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "peft_type": "LORA", "r": configuration.rank, "lora_alpha": Double(configuration.alpha),
            "lora_dropout": Double(configuration.dropout), "use_rslora": configuration.rankStabilized, "target_modules": paths,
            "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true, "use_dora": configuration.useDoRA,
            "rank_pattern": rankPattern, "alpha_pattern": alphaPattern, "base_model_name_or_path": baseModel, "task_type": NSNull(),
            "modules_to_save": saved.isEmpty ? NSNull() as Any : saved as Any,
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: folder.appendingPathComponent("adapter_config.json"), options: .atomic)
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent("adapter_model.safetensors"))
    }
}
