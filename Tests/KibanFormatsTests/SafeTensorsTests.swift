import Foundation
import KibanFormats
import KibanTensor
import Testing

/// The safetensors reader on hand-built files: every dtype, and every way a header can lie.
@Suite("safetensors")
struct SafeTensorsTests {
    /// A file with `header` (JSON object) followed by `body`.
    func file(header: [String: Any], body: [UInt8]) throws -> URL {
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Data($0) }
        bytes.append(json)
        bytes.append(contentsOf: body)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString).safetensors")
        try bytes.write(to: url)
        return url
    }

    func entry(_ dtype: String, _ shape: [Int], _ range: (Int, Int)) -> [String: Any] {
        ["dtype": dtype, "shape": shape, "data_offsets": [range.0, range.1]]
    }

    func expectInvalid(_ header: [String: Any], body: [UInt8], mentioning fragment: String) throws {
        let url = try file(header: header, body: body)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error?.description.contains(url.path) == true)
        #expect(error?.description.contains(fragment) == true, "\(error?.description ?? "")")
    }

    @Test func halfPrecisionAndIntegerTypesWiden() throws {
        // F16: 1.0, -2.5, 65504 (largest), 2^-24 (smallest subnormal); BF16: 1.0, -3.0; I32: -7, 9.
        let half: [UInt16] = [0x3C00, 0xC100, 0x7BFF, 0x0001], brain: [UInt16] = [0x3F80, 0xC040]
        var body = half.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } + brain.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        body += [Int32(-7), 9].flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let url = try file(
            header: ["h": entry("F16", [4], (0, 8)), "b": entry("BF16", [2], (8, 12)), "i": entry("I32", [2], (12, 20))],
            body: body)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try SafeTensorsFile(contentsOf: url)
        #expect(try reader.tensor("h").toArray() == [1, -2.5, 65504, 0x1p-24])
        #expect(try reader.tensor("b").toArray() == [1, -3])
        #expect(try reader.indices("i").values == [-7, 9])
        #expect(throws: SafeTensorsError.self) { try reader.indices("h") }
    }

    @Test func headerClaimingATerabyteIsRejected() throws {
        var bytes = withUnsafeBytes(of: (UInt64(1) << 40).littleEndian) { Data($0) }
        bytes.append(contentsOf: Array("{}      ".utf8))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString).safetensors")
        try bytes.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error?.description.contains("limit") == true)
    }

    @Test func badHeadersNameTheProblem() throws {
        let body = [UInt8](repeating: 0, count: 16)
        try expectInvalid(["a": entry("F32", [2], (0, 8)), "b": entry("F32", [2], (4, 12))], body: body, mentioning: "overlaps")
        try expectInvalid(["a": entry("F32", [2], (0, 8)), "b": entry("F32", [1], (12, 16))], body: body, mentioning: "hole")
        try expectInvalid(["a": entry("F32", [3], (0, 8))], body: Array(body[0..<8]), mentioning: "'a'")
        try expectInvalid(["a": entry("F32", [2], (0, 8))], body: body, mentioning: "after the last tensor")
        try expectInvalid(["a": entry("F32", [1 << 62, 4], (0, 16))], body: body, mentioning: "'a'")
        try expectInvalid(["a": entry("F32", [8], (0, 32))], body: body, mentioning: "'a'")
        try expectInvalid(["a": ["dtype": "F32"]], body: [], mentioning: "lacks")
    }

    @Test func unsupportedDTypeNamesTheTensor() throws {
        let url = try file(header: ["q": entry("U8", [4], (0, 4))], body: [1, 2, 3, 4])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: SafeTensorsError.unsupportedDType(path: url.path, tensor: "q", dtype: "U8")) {
            try SafeTensorsFile(contentsOf: url)
        }
    }

    @Test func randomMutationsNeverCrash() throws {
        let valid = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString).safetensors")
        try SafeTensorsFile.write(
            ["w": .float32(Tensor.ones([3, 4])), "ids": .int64(IndexTensor([1, 2, 3]))], metadata: ["a": "b"], to: valid)
        let original = [UInt8](try Data(contentsOf: valid))
        try FileManager.default.removeItem(at: valid)
        let generator = RandomGenerator(seed: 0x5EED)
        func random(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-fuzz-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var (accepted, rejected) = (0, 0)
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + random(4)) {
                switch random(3) {
                case 0: bytes[random(bytes.count)] = UInt8(random(256))
                case 1: bytes.insert(UInt8(random(256)), at: random(bytes.count))
                default: if bytes.count > 1 { bytes.remove(at: random(bytes.count)) }
                }
            }
            try Data(bytes).write(to: url)
            do {
                let file = try SafeTensorsFile(contentsOf: url)
                for name in file.entries.keys { _ = try? file.tensor(name); _ = try? file.indices(name) }
                accepted += 1
            } catch is SafeTensorsError {
                rejected += 1
            }
        }
        #expect(accepted + rejected == 3000 && rejected > 0)
    }
}
