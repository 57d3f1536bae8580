import Foundation
import KibanTensor

/// Errors reading or writing a safetensors file; each names the file and, where it applies, the tensor.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case invalidHeader(path: String, reason: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case missingTensor(path: String, tensor: String)
    case wrongDType(path: String, tensor: String, dtype: String, expected: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read safetensors file: \(reason)"
        case .invalidHeader(let path, let reason): "\(path): invalid safetensors header: \(reason)"
        case .unsupportedDType(let path, let tensor, let dtype): "\(path): tensor '\(tensor)' has unsupported dtype \(dtype)"
        case .missingTensor(let path, let tensor): "\(path): no tensor named '\(tensor)'"
        case .wrongDType(let path, let tensor, let dtype, let expected):
            "\(path): tensor '\(tensor)' is \(dtype), expected \(expected)"
        }
    }
}

/// A value stored in a safetensors file by ``SafeTensorsFile/write(_:metadata:to:)``.
public enum SafeTensorsValue {
    /// Written as F32.
    case float32(Tensor)
    /// Written as I64.
    case int64(IndexTensor)
}

/// A validating, memory-mapped reader of the safetensors format (F32, F64, F16, BF16 → float32;
/// I64, I32 → indices).
///
/// Layout: an 8-byte little-endian header length, a JSON header mapping each name to
/// `{dtype, shape, data_offsets}` (plus optional string `__metadata__`), then the raw data.
/// The header is checked before any tensor is read: its size (≤ 100 MiB and inside the file),
/// shapes that match their byte ranges without overflow, and ranges that neither overlap nor
/// leave holes. A violation is an error naming the file and the tensor.
public struct SafeTensorsFile: Sendable {
    /// One tensor's header entry.
    public struct Entry: Equatable, Sendable {
        public let dtype: String
        public let shape: [Int]
        /// Byte range inside the data section.
        public let byteRange: Range<Int>
    }

    /// Where the file was read from (used in error messages).
    public let path: String
    /// The free-form string metadata of the header.
    public let metadata: [String: String]
    /// Header entries by tensor name.
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    private static let elementSizes = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4]
    /// The safetensors format's own limit on the JSON header.
    public static let maximumHeaderBytes = 100 << 20

    /// Reads and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        path = url.path
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else { throw SafeTensorsError.invalidHeader(path: path, reason: "file shorter than 8 bytes") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(Self.maximumHeaderBytes) else {
            throw SafeTensorsError.invalidHeader(
                path: path, reason: "header length \(headerLength) exceeds the format's limit of \(Self.maximumHeaderBytes) bytes")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "header length \(headerLength) exceeds the file size \(data.count)")
        }
        dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw SafeTensorsError.invalidHeader(path: path, reason: "header is not JSON")
        }
        guard let header = json as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "header is not a JSON object")
        }
        metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            entries[name] = try Self.parseEntry(name: name, value: value, path: path, dataLength: data.count - dataStart)
        }
        self.entries = entries
        try Self.checkLayout(entries, dataLength: data.count - dataStart, path: path)
    }

    /// Tensors may not overlap and must cover the data section without holes (the format's rule).
    private static func checkLayout(_ entries: [String: Entry], dataLength: Int, path: String) throws {
        var end = 0
        for (name, entry) in entries.sorted(by: { ($0.value.byteRange.lowerBound, $0.key) < ($1.value.byteRange.lowerBound, $1.key) }) {
            guard entry.byteRange.lowerBound >= end || entry.byteRange.isEmpty else {
                throw SafeTensorsError.invalidHeader(path: path, reason: "tensor '\(name)' overlaps the tensor before it")
            }
            guard entry.byteRange.lowerBound <= end else {
                throw SafeTensorsError.invalidHeader(path: path, reason: "a hole in the data section before tensor '\(name)'")
            }
            end = max(end, entry.byteRange.upperBound)
        }
        guard end == dataLength else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "\(dataLength - end) bytes after the last tensor")
        }
    }

    private static func parseEntry(name: String, value: Any, path: String, dataLength: Int) throws -> Entry {
        guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
            let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2
        else {
            throw SafeTensorsError.invalidHeader(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
        }
        guard let elementSize = elementSizes[dtype] else {
            throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: dtype)
        }
        let byteCount = shape.reduce((partialValue: elementSize, overflow: false)) { running, extent in
            let product = running.partialValue.multipliedReportingOverflow(by: extent)
            return (product.partialValue, running.overflow || product.overflow)
        }
        guard shape.allSatisfy({ $0 >= 0 }), !byteCount.overflow, offsets[0] >= 0, offsets[0] <= offsets[1],
            offsets[1] <= dataLength, offsets[1] - offsets[0] == byteCount.partialValue
        else {
            throw SafeTensorsError.invalidHeader(
                path: path, reason: "entry '\(name)' has offsets \(offsets) that do not fit shape \(shape) of \(dtype) "
                    + "inside \(dataLength) data bytes")
        }
        return Entry(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
    }

    private func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else { throw SafeTensorsError.missingTensor(path: path, tensor: name) }
        return entry
    }

    /// The values of a floating-point tensor (F32, F64, F16 or BF16) at full precision, with its shape.
    public func doubles(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let entry = try entry(name)
        let bytes = data.subdata(in: (dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound))
        let values: [Double]? = bytes.withUnsafeBytes { raw in
            switch entry.dtype {
            case "F32": (0..<(raw.count / 4)).map { Double(Float(bitPattern: Self.load(raw, $0, as: UInt32.self))) }
            case "F64": (0..<(raw.count / 8)).map { Double(bitPattern: Self.load(raw, $0, as: UInt64.self)) }
            case "F16": (0..<(raw.count / 2)).map { Double(Self.halfToFloat(Self.load(raw, $0, as: UInt16.self))) }
            case "BF16": (0..<(raw.count / 2)).map { Double(Float(bitPattern: UInt32(Self.load(raw, $0, as: UInt16.self)) << 16)) }
            default: nil
            }
        }
        guard let values else {
            throw SafeTensorsError.wrongDType(path: path, tensor: name, dtype: entry.dtype, expected: "F32, F64, F16 or BF16")
        }
        return (entry.shape, values)
    }

    /// Element `index` of a little-endian array in `raw`, read without alignment assumptions.
    private static func load<Value: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ index: Int, as type: Value.Type) -> Value {
        Value(littleEndian: raw.loadUnaligned(fromByteOffset: index * MemoryLayout<Value>.size, as: Value.self))
    }

    /// IEEE half precision → float (subnormals, infinities and NaN included).
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31, exponent = UInt32(bits >> 10) & 0x1f, mantissa = UInt32(bits) & 0x3ff
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1f:
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// A floating-point tensor as float32 (F64 rounded; F16 and BF16 widened exactly).
    public func tensor(_ name: String) throws -> Tensor {
        let (shape, values) = try doubles(name)
        return Tensor(shape: shape, values: values.map(Float.init))
    }

    /// An I64 or I32 tensor as indices.
    public func indices(_ name: String) throws -> IndexTensor {
        let entry = try entry(name)
        let bytes = data.subdata(in: (dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound))
        let values: [Int]? = bytes.withUnsafeBytes { raw in
            switch entry.dtype {
            case "I64": (0..<(raw.count / 8)).map { Int(Int64(bitPattern: Self.load(raw, $0, as: UInt64.self))) }
            case "I32": (0..<(raw.count / 4)).map { Int(Int32(bitPattern: Self.load(raw, $0, as: UInt32.self))) }
            default: nil
            }
        }
        guard let values else {
            throw SafeTensorsError.wrongDType(path: path, tensor: name, dtype: entry.dtype, expected: "I64 or I32")
        }
        return IndexTensor(shape: entry.shape, values: values)
    }

    /// Writes `tensors` (in name order) with `metadata` to `url` atomically: a temporary file in
    /// the same folder is renamed over the target only once it is complete.
    public static func write(_ tensors: [String: SafeTensorsValue], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        for name in tensors.keys.sorted() {
            let start = body.count
            let (dtype, shape): (String, [Int])
            switch tensors[name]! {
            case .float32(let tensor):
                (dtype, shape) = ("F32", tensor.shape)
                for value in tensor.toArray() { withUnsafeBytes(of: value.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            case .int64(let indices):
                (dtype, shape) = ("I64", indices.shape)
                for value in indices.values { withUnsafeBytes(of: Int64(value).littleEndian) { body.append(contentsOf: $0) } }
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [start, body.count]]
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var file = Data()
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        file.append(body)
        do {
            try file.write(to: url, options: .atomic)
        } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
