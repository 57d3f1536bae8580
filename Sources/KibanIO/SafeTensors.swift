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

/// A minimal reader for the safetensors format (F32, F64 and I64 tensors) — the fixture format.
///
/// Layout: an 8-byte little-endian header length, a JSON header mapping each name to
/// `{dtype, shape, data_offsets}` (plus optional string `__metadata__`), then the raw data.
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

    private static let elementSizes = ["F32": 4, "F64": 8, "I64": 8]

    /// Reads and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        path = url.path
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else { throw SafeTensorsError.invalidHeader(path: path, reason: "file shorter than 8 bytes") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
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

    /// The values of a floating-point tensor at full precision (F32 or F64), with its shape.
    public func doubles(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let entry = try entry(name)
        guard entry.dtype == "F32" || entry.dtype == "F64" else {
            throw SafeTensorsError.wrongDType(path: path, tensor: name, dtype: entry.dtype, expected: "F32 or F64")
        }
        let bytes = data.subdata(in: (dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound))
        let values: [Double] = bytes.withUnsafeBytes { raw in
            if entry.dtype == "F32" {
                return (0..<(raw.count / 4)).map {
                    Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))))
                }
            }
            return (0..<(raw.count / 8)).map {
                Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))
            }
        }
        return (entry.shape, values)
    }

    /// A floating-point tensor (F32, or F64 rounded to float32).
    public func tensor(_ name: String) throws -> Tensor {
        let (shape, values) = try doubles(name)
        return Tensor(shape: shape, values: values.map(Float.init))
    }

    /// An I64 tensor as indices.
    public func indices(_ name: String) throws -> IndexTensor {
        let entry = try entry(name)
        guard entry.dtype == "I64" else {
            throw SafeTensorsError.wrongDType(path: path, tensor: name, dtype: entry.dtype, expected: "I64")
        }
        let bytes = data.subdata(in: (dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound))
        let values = bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 8)).map {
                Int(Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))))
            }
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
