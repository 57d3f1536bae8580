import Foundation
import KibanData

/// The real data the tests read, found by ``DataRoot``'s rule from the repository root:
/// `$KIBAN_DATA`, else `../shared/data` beside the checkout, else `data/` (which `.ci/test` fills with
/// `Examples/fetch_data.sh`). Both copies are byte-identical (`Examples/data.sha256`), so counts
/// asserted on them hold for either.
public enum TestData {
    /// The repository root (found from this file's path).
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The data folder; fails with what to run when there is none.
    public static func root() throws -> URL {
        guard let root = DataRoot.locate(from: repository) else {
            throw MissingTestData(description: "test data not found: " + DataRoot.notFoundMessage(from: repository))
        }
        return root
    }

    /// `relative` (e.g. `protein/bacterial_proteome.faa`) inside the data folder; fails naming the
    /// file and the fetch command when it is missing.
    public static func url(_ relative: String) throws -> URL {
        let url = try root().appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MissingTestData(description: "test data file \(url.path) is missing; run Examples/fetch_data.sh")
        }
        return url
    }

    /// As ``url(_:)``, as a path.
    public static func path(_ relative: String) throws -> String { try url(relative).path }

    /// all-MiniLM-L6-v2 where `Examples/fetch_minilm.sh` puts it (`data/models/` in the checkout).
    public static let miniLMFolder = repository.appendingPathComponent("data/models/all-MiniLM-L6-v2")

    /// A file of the MiniLM folder; fails (never skips) with the fetch command when it is missing.
    public static func miniLMFile(_ name: String) throws -> URL {
        let url = miniLMFolder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MissingTestData(description: "\(url.path) is missing: run Examples/fetch_minilm.sh to fetch all-MiniLM-L6-v2")
        }
        return url
    }

    /// Why a test could not find its data.
    public struct MissingTestData: Error, CustomStringConvertible {
        public let description: String
    }
}
