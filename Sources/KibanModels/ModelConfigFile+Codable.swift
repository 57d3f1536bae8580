/// JSON (and YAML) form of a resolved model config, `{"model": "esm", "config": {…}}` with the
/// config's Hugging Face field names, as the model YAML files in `Configs/` write it. Run folders
/// keep it so a trained model can be rebuilt without the files it was first described by.
extension ModelConfigFile: Codable {
    private enum CodingKeys: String, CodingKey { case model, config }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .model) {
        case "esm": self = .esm(try container.decode(EsmConfig.self, forKey: .config))
        case "bert": self = .bert(try container.decode(BertConfig.self, forKey: .config))
        case "llama": self = .llama(try container.decode(LlamaConfig.self, forKey: .config))
        case "materials": self = .materials(try container.decode(MaterialsEncoderConfig.self, forKey: .config))
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .model, in: container, debugDescription: "'\(other)' is not one of esm, bert, llama, materials")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .esm(let config): try container.encode("esm", forKey: .model); try container.encode(config, forKey: .config)
        case .bert(let config): try container.encode("bert", forKey: .model); try container.encode(config, forKey: .config)
        case .llama(let config): try container.encode("llama", forKey: .model); try container.encode(config, forKey: .config)
        case .materials(let config): try container.encode("materials", forKey: .model); try container.encode(config, forKey: .config)
        }
    }
}
