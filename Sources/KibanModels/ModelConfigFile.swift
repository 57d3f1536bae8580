import Foundation
import KibanNN
import KibanTensor
import Yams

/// A model described by a YAML file in `Configs/`:
///
/// ```yaml
/// model: esm          # esm | bert | llama | materials
/// config:             # Hugging Face config.json field names (materials: its own keys)
///   hidden_size: 320
///   num_hidden_layers: 6
/// ```
public enum ModelConfigFile: Equatable, Sendable {
    case esm(EsmConfig)
    case bert(BertConfig)
    case llama(LlamaConfig)
    case materials(MaterialsEncoderConfig)

    /// A file that cannot be read or decoded; the message names the file and the key.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads and validates a YAML model config.
    public static func load(path: String) throws -> ModelConfigFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LoadError(description: "\(path): cannot read the file")
        }
        do {
            return try parse(yaml: text)
        } catch let error as DecodingError {
            throw LoadError(description: "\(path): \(describe(error))")
        } catch let error as LoadError {
            throw LoadError(description: "\(path): \(error.description)")
        } catch {
            throw LoadError(description: "\(path): \(error)")
        }
    }

    /// Parses YAML text (see the type's documentation for the layout).
    public static func parse(yaml: String) throws -> ModelConfigFile {
        struct Header: Decodable { let model: String }
        let decoder = YAMLDecoder()
        let header = try decoder.decode(Header.self, from: yaml)
        switch header.model {
        case "esm": return .esm(try decoder.decode(Body<EsmConfig>.self, from: yaml).config)
        case "bert": return .bert(try decoder.decode(Body<BertConfig>.self, from: yaml).config)
        case "llama": return .llama(try decoder.decode(Body<LlamaConfig>.self, from: yaml).config)
        case "materials": return .materials(try decoder.decode(Body<MaterialsEncoderConfig>.self, from: yaml).config)
        default: throw LoadError(description: "key 'model': '\(header.model)' is not one of esm, bert, llama, materials")
        }
    }

    private struct Body<Config: Decodable>: Decodable { let config: Config }

    private static func describe(_ error: DecodingError) -> String {
        let path = { (context: DecodingError.Context) in context.codingPath.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "key '\(path(context))': \(context.debugDescription)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? context.debugDescription : "key '\(path(context))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
