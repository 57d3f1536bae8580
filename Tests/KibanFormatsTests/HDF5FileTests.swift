import Foundation
import KibanFormats
import Testing

/// HDF5 files and SHA-256, below any model: datasets, attributes and hyperslabs round-trip, and
/// digests match known values.
@Suite("HDF5 files and SHA-256")
struct HDF5FileTests {
    func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)-\(name)")
    }

    @Test func datasetsAttributesAndHyperslabsRoundTrip() throws {
        let url = temporaryURL("plain.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let floats: [Float] = (0..<24).map { Float($0) * 0.37 - 3 }
        let ints: [Int64] = [5, -1, 1 << 40, 0, 7, 9]
        do {
            let file = try HDF5File(path: url.path, mode: .create)
            try file.write(floats, shape: [4, 6], at: "/a/b/floats", chunk: [2, 6], compression: 4)
            try file.write(ints, shape: [3, 2], at: "/ints")
            try file.setAttribute("note", "résumé ✓")
            try file.setAttribute("step", 42, on: "/a")
            try file.setAttribute("rate", 0.125, on: "/a/b/floats")
        }
        let file = try HDF5File(path: url.path, mode: .read)
        #expect(try file.readFloats("/a/b/floats").values.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(try file.shape(of: "/a/b/floats") == [4, 6])
        #expect(try file.readFloats("/a/b/floats", rows: 1..<3) == Array(floats[6..<18]))
        #expect(try file.readInts("/ints").values == ints)
        #expect(try file.readInts("/ints", rows: 2..<3) == [7, 9])
        #expect(try file.stringAttribute("note") == "résumé ✓")
        #expect(try file.intAttribute("step", on: "/a") == 42)
        #expect(try file.doubleAttribute("rate", on: "/a/b/floats") == 0.125)
        #expect(try file.datasetNames(in: "/a/b") == ["floats"])
        #expect(throws: HDF5Error.self) { try file.readFloats("/missing") }
        #expect(throws: HDF5Error.self) { try file.readInts("/ints", rows: 2..<4) }
    }

    @Test func sha256MatchesKnownDigests() throws {
        var empty = SHA256()
        #expect(empty.hexDigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(abc.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var long = SHA256()
        long.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(long.hexDigest() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
