import Foundation
import KibanFormats
import KibanNN
import KibanTensor

/// A Hugging Face model folder: `config.json` plus `model.safetensors`, as `save_pretrained`
/// writes it and `from_pretrained` reads it.
public enum HuggingFaceFolder {
    /// An unreadable folder or a config that does not decode; names the file.
    public struct FolderError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Decodes `config.json` into a Kiban config (whose field names are Hugging Face's).
    public static func config<Config: Decodable>(_ type: Config.Type, in folder: URL) throws -> Config {
        let url = folder.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: url) else { throw FolderError(description: "\(url.path): cannot read the file") }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw FolderError(description: "\(url.path): \(error)")
        }
    }

    /// Loads `model.safetensors` — or the shards listed by `model.safetensors.index.json` — into
    /// `model` by name. Names in `ignoring` (checkpoint keys a Kiban model does not hold, such as
    /// an old `embeddings.position_ids` buffer) are dropped first; everything else must match
    /// exactly unless `strict` is false.
    @discardableResult
    public static func loadWeights(into model: Module, from folder: URL, ignoring: Set<String> = [], strict: Bool = true) throws -> LoadReport {
        let tensors = try self.tensors(in: folder).filter { !ignoring.contains($0.key) }
        do {
            return try model.load(stateDict: tensors, strict: strict)
        } catch let report as LoadReport {
            throw FolderError(description: "\(folder.path): weights do not match the model:\n\(report)")
        }
    }

    /// Every floating-point tensor of the folder's safetensors file(s) by name (integer buffers such
    /// as BERT's `embeddings.position_ids` are index tables, not weights).
    public static func tensors(in folder: URL) throws -> [String: Tensor] {
        let floating: Set<String> = ["F32", "F64", "F16", "BF16"]
        var tensors: [String: Tensor] = [:]
        for shard in try shardFiles(in: folder) {
            let file = try SafeTensorsFile(contentsOf: shard)
            for (name, entry) in file.entries where floating.contains(entry.dtype) { tensors[name] = try file.tensor(name) }
        }
        return tensors
    }

    /// The weight files of a folder: the shards named by `model.safetensors.index.json` when it
    /// exists (each once, in name order), else `model.safetensors`.
    public static func shardFiles(in folder: URL) throws -> [URL] {
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        guard FileManager.default.fileExists(atPath: index.path) else { return [folder.appendingPathComponent("model.safetensors")] }
        struct Index: Decodable {
            let weightMap: [String: String]
            enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
        }
        do {
            let map = try JSONDecoder().decode(Index.self, from: Data(contentsOf: index)).weightMap
            return Set(map.values).sorted().map { folder.appendingPathComponent($0) }
        } catch {
            throw FolderError(description: "\(index.path): not a safetensors index (\(error))")
        }
    }

    /// Config fields that Hugging Face types as float; JSON writes 0.0 as `0`, which its strict
    /// config classes reject, so these get an explicit ".0".
    static let floatingPointKeys: Set<String> = [
        "hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps", "initializer_range", "rope_theta",
        "rms_norm_eps", "attention_dropout",
    ]

    /// Appends ".0" to integral values of `keys` in pretty-printed JSON text.
    static func markFloats(_ json: String, keys: Set<String>) -> String {
        json.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, keys.contains(parts[0].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\""])) else {
                return String(line)
            }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            let number = value.hasSuffix(",") ? String(value.dropLast()) : value
            guard Int(number) != nil else { return String(line) }
            return "\(parts[0]): \(number).0\(value.hasSuffix(",") ? "," : "")"
        }.joined(separator: "\n")
    }

    /// Writes `config.json` (the config's fields plus `model_type` and `architectures`) and
    /// `model.safetensors` with every parameter under its Hugging Face name, atomically. A tied
    /// weight is written once, under its source key, as `save_pretrained` does (the aliases of
    /// ``Module/tiedAliases()`` are left out; `from_pretrained` and ``loadWeights(into:from:ignoring:strict:)``
    /// tie them again).
    public static func save<Config: Encodable>(
        model: Module, config: Config, modelType: String, architecture: String, to folder: URL
    ) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoded = try JSONEncoder().encode(config)
        guard var fields = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
            throw FolderError(description: "\(folder.path): the config does not encode as a JSON object")
        }
        fields["model_type"] = modelType
        fields["architectures"] = [architecture]
        let json = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
        try markFloats(String(decoding: json, as: UTF8.self), keys: floatingPointKeys)
            .write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let aliases = model.tiedAliases()
        let tensors = model.stateDict().filter { !aliases.contains($0.key) }.mapValues { SafeTensorsValue.float32($0) }
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))
    }
}
