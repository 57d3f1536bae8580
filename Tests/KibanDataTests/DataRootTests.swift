import Foundation
import KibanData
import Testing

/// The one rule for finding the data folder: `$KIBAN_DATA`, else `../shared/data`, else `data/`.
@Suite struct DataRootTests {
    /// A fresh folder `<tmp>/kiban-…/checkout` whose parent is empty.
    func checkout() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)/checkout")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func theVariableWinsAndIsReadRelativeToTheBase() throws {
        let base = try checkout()
        defer { try? FileManager.default.removeItem(at: base.deletingLastPathComponent()) }
        try FileManager.default.createDirectory(at: base.appendingPathComponent("data"), withIntermediateDirectories: true)
        #expect(DataRoot.locate(from: base, environment: ["KIBAN_DATA": "/srv/kiban-data"])?.path == "/srv/kiban-data")
        #expect(DataRoot.locate(from: base, environment: ["KIBAN_DATA": "mine"])?.path == base.path + "/mine")
    }

    @Test func sharedDataComesBeforeTheLocalDataFolder() throws {
        let base = try checkout()
        defer { try? FileManager.default.removeItem(at: base.deletingLastPathComponent()) }
        #expect(DataRoot.locate(from: base, environment: [:]) == nil)
        #expect(DataRoot.notFoundMessage(from: base).contains("\(base.deletingLastPathComponent().path)/shared/data nor \(base.path)/data"))
        try FileManager.default.createDirectory(at: base.appendingPathComponent("data"), withIntermediateDirectories: true)
        #expect(DataRoot.locate(from: base, environment: [:])?.path == base.path + "/data")
        let shared = base.deletingLastPathComponent().appendingPathComponent("shared/data")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        #expect(DataRoot.locate(from: base, environment: ["KIBAN_DATA": ""])?.path == shared.path)
    }
}
