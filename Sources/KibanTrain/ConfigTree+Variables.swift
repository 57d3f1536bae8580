import Foundation
import KibanData

extension ConfigTree {
    /// The tree with every `${NAME}` inside a string value (also inside lists) replaced by
    /// `value(NAME)`. A variable without a value is an error naming the file, the dotted key and
    /// `unresolved(NAME)`'s explanation.
    public func expandingVariables(
        file: String, value: (String) -> String?, unresolved: (String) -> String
    ) throws -> ConfigTree {
        ConfigTree(try Self.expand(root, path: [], file: file, value: value, unresolved: unresolved) as? [String: Any] ?? [:])
    }

    /// Expands `${KIBAN_DATA}` to the data folder ``DataRoot`` finds from `here` (the current
    /// directory by default), and any other `${NAME}` to that environment variable.
    public func expandingEnvironment(
        file: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        from here: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) throws -> ConfigTree {
        try expandingVariables(file: file) { name in
            name == DataRoot.variable ? DataRoot.locate(from: here, environment: environment)?.path : environment[name]
        } unresolved: { name in
            name == DataRoot.variable ? DataRoot.notFoundMessage(from: here) : "environment variable \(name) is not set"
        }
    }

    private static func expand(
        _ node: Any, path: [String], file: String, value: (String) -> String?, unresolved: (String) -> String
    ) throws -> Any {
        switch node {
        case let mapping as [String: Any]:
            return try mapping.reduce(into: [String: Any]()) { result, entry in
                result[entry.key] = try expand(entry.value, path: path + [entry.key], file: file, value: value, unresolved: unresolved)
            }
        case let list as [Any]:
            return try list.map { try expand($0, path: path, file: file, value: value, unresolved: unresolved) }
        case let text as String:
            return try substitute(text) { name in
                guard let resolved = value(name) else {
                    throw ConfigError("\(file): key '\(path.joined(separator: "."))': ${\(name)}: \(unresolved(name))")
                }
                return resolved
            }
        default:
            return node
        }
    }

    /// `text` with each `${NAME}` replaced by `replacement(NAME)`; other `$` signs stay as they are.
    private static func substitute(_ text: String, _ replacement: (String) throws -> String) throws -> String {
        var result = "", rest = Substring(text)
        while let start = rest.range(of: "${"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            result += rest[..<start.lowerBound]
            result += try replacement(String(rest[start.upperBound..<end]))
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
