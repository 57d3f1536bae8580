import Foundation
import Yams

/// A YAML/JSON document as plain values (dictionaries, arrays, strings, numbers, booleans), with
/// the operations a run config needs: defaults underneath, `--set key.path=value` on top, and
/// every key checked against a schema so a typo is an error that names it.
public struct ConfigTree {
    /// The document's root mapping.
    public private(set) var root: [String: Any]

    public init(_ root: [String: Any] = [:]) { self.root = root }

    /// The problem with a config, naming the file (when there is one) and the dotted key.
    public struct ConfigError: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Parses YAML text whose top level is a mapping.
    public static func parse(yaml: String, file: String) throws -> ConfigTree {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: yaml)
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
        guard let mapping = loaded.map({ $0 as? [String: Any] }) ?? [:] else {
            throw ConfigError("\(file): the top level must be a mapping of sections (run:, model:, data:, …)")
        }
        return ConfigTree(mapping)
    }

    /// The tree of an `Encodable` value (its JSON form, keys written by `keys`).
    public init<Value: Encodable>(encoding value: Value, keys: JSONEncoder.KeyEncodingStrategy = .useDefaultKeys) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = keys
        let data = try encoder.encode(value)
        root = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// Decodes the tree; a type mismatch names the dotted key and the value found.
    public func decode<Value: Decodable>(
        _ type: Value.Type, file: String, keys: JSONDecoder.KeyDecodingStrategy = .useDefaultKeys
    ) throws -> Value {
        let data = try JSONSerialization.data(withJSONObject: root, options: [.fragmentsAllowed])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = keys
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw ConfigError("\(file): \(Self.describe(error))")
        }
    }

    /// Applies `key.path=value`; the value is read as a YAML scalar or flow collection
    /// (`0.001`, `true`, `[query, value]`).
    public mutating func set(_ assignment: String) throws {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            throw ConfigError("--set '\(assignment)': expected key.path=value")
        }
        let path = assignment[..<equals].split(separator: ".").map(String.init)
        let text = String(assignment[assignment.index(after: equals)...])
        let value: Any = (try? Yams.load(yaml: text)).flatMap { $0 } ?? text
        root = Self.assign(value, at: path[...], in: root)
    }

    /// Lays `self` over `base`: mappings merge key by key, anything else replaces. A mapping that
    /// `base` lacks (an optional section) starts from `schema`'s version of it.
    public func overlaid(on base: ConfigTree, schema: ConfigTree) -> ConfigTree {
        ConfigTree(Self.merge(root, onto: base.root, schema: schema.root))
    }

    /// Every key must exist in `schema` at the same place; the error names the first unknown key
    /// and suggests the closest known one.
    public func checkKeys(against schema: ConfigTree, file: String) throws {
        try Self.check(root, schema: schema.root, path: [], file: file)
    }

    private static func check(_ node: [String: Any], schema: [String: Any], path: [String], file: String) throws {
        for key in node.keys.sorted() {
            let keyPath = (path + [key]).joined(separator: ".")
            guard let known = schema[key] else {
                let candidates = schema.keys.sorted()
                let closest = candidates.min { editDistance($0, key) < editDistance($1, key) }
                let hint = closest.map { editDistance($0, key) <= max(2, key.count / 3) ? " (did you mean '\((path + [$0]).joined(separator: "."))'?)" : "" } ?? ""
                throw ConfigError("\(file): unknown key '\(keyPath)'\(hint); known keys here: \(candidates.joined(separator: ", "))")
            }
            if let child = node[key] as? [String: Any] {
                guard let knownChild = known as? [String: Any] else {
                    throw ConfigError("\(file): key '\(keyPath)' takes a value, not a mapping")
                }
                try check(child, schema: knownChild, path: path + [key], file: file)
            }
        }
    }

    private static func merge(_ overlay: [String: Any], onto base: [String: Any], schema: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in overlay {
            if let mapping = value as? [String: Any] {
                let start = base[key] as? [String: Any] ?? schema[key] as? [String: Any] ?? [:]
                result[key] = merge(mapping, onto: start, schema: schema[key] as? [String: Any] ?? [:])
            } else {
                result[key] = value
            }
        }
        return result
    }

    private static func assign(_ value: Any, at path: ArraySlice<String>, in node: [String: Any]) -> [String: Any] {
        var result = node
        guard let key = path.first else { return node }
        result[key] = path.count == 1 ? value : assign(value, at: path.dropFirst(), in: node[key] as? [String: Any] ?? [:])
        return result
    }

    /// `batchSize` → `batch_size` (what `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` writes).
    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase && !result.isEmpty { result += "_" }
            result += character.lowercased()
        }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The error with its key path as the file spells it (snake_case).
    static func describe(_ error: DecodingError) -> String {
        let path = { (context: DecodingError.Context) in context.codingPath.map { snakeCase($0.stringValue) }.joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\((context.codingPath + [key]).map { snakeCase($0.stringValue) }.joined(separator: "."))'"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "key '\(path(context))': expected \(type)"
        case .dataCorrupted(let context):
            return "key '\(path(context))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
