import CHDF5
import Foundation

/// An error from an HDF5 operation, naming the file and the object.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// A thin, safe wrapper over an HDF5 file: groups, float32/int64 datasets with optional chunking
/// and gzip compression, partial (hyperslab) reads along the first axis, and string/number
/// attributes. Dataset paths are slash-separated ("/model/encoder.layer.0.weight"); missing
/// parent groups are created on write.
public final class HDF5File {
    public enum Mode: Sendable { case read, readWrite, create }

    /// The file's path (used in error messages).
    public let path: String
    private(set) var file: hid_t

    public init(path: String, mode: Mode) throws {
        kiban_h5_silence_errors()
        self.path = path
        switch mode {
        case .create:
            file = H5Fcreate(path, kiban_h5f_acc_trunc(), kiban_h5p_default(), kiban_h5p_default())
        case .read, .readWrite:
            guard FileManager.default.fileExists(atPath: path) else { throw HDF5Error(path: path, message: "no such file") }
            guard H5Fis_hdf5(path) > 0 else { throw HDF5Error(path: path, message: "not an HDF5 file (or damaged)") }
            file = H5Fopen(path, mode == .read ? kiban_h5f_acc_rdonly() : kiban_h5f_acc_rdwr(), kiban_h5p_default())
        }
        guard file >= 0 else { throw HDF5Error(path: path, message: "cannot open (\(mode))") }
    }

    deinit { close() }

    /// Closes the file; later calls fail. Safe to call twice.
    public func close() {
        if file >= 0 { H5Fclose(file) }
        file = -1
    }

    // MARK: Datasets

    /// Writes float32 values of `shape` at `dataset`. `chunk` (an extent per axis) enables
    /// chunked storage with a Fletcher-32 checksum (so damaged bytes fail to read instead of
    /// reading as wrong numbers), `compression` (0–9) gzip on it.
    public func write(_ values: [Float], shape: [Int], at dataset: String, chunk: [Int]? = nil, compression: Int? = nil) throws {
        try checkCount(values.count, shape, dataset)
        try values.withUnsafeBytes { try write(bytes: $0, type: kiban_h5t_native_float(), shape: shape, at: dataset, chunk: chunk, compression: compression) }
    }

    /// Writes int64 values of `shape` at `dataset`.
    public func write(_ values: [Int64], shape: [Int], at dataset: String, chunk: [Int]? = nil, compression: Int? = nil) throws {
        try checkCount(values.count, shape, dataset)
        try values.withUnsafeBytes { try write(bytes: $0, type: kiban_h5t_native_int64(), shape: shape, at: dataset, chunk: chunk, compression: compression) }
    }

    /// Creates an empty dataset that grows along its first axis with ``append(_:to:)-(_,String)``:
    /// each row has `rowShape` (empty: a one-dimensional dataset of scalars), storage is chunked
    /// (`chunk` rows, Fletcher-32 checked) and, when `compression` is given, gzip-compressed.
    public func createAppendable(
        _ dataset: String, integer: Bool, rowShape: [Int] = [], chunk: Int = 1 << 16, compression: Int? = nil
    ) throws {
        try ensureParents(of: dataset)
        var dimensions: [hsize_t] = [0] + rowShape.map { hsize_t($0) }
        var maximum: [hsize_t] = [kiban_h5s_unlimited()] + rowShape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dimensions.count), &dimensions, &maximum)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(kiban_h5p_dataset_create())
        defer { H5Pclose(properties) }
        var chunkDimensions: [hsize_t] = [hsize_t(max(1, chunk))] + rowShape.map { hsize_t(max(1, $0)) }
        H5Pset_chunk(properties, Int32(chunkDimensions.count), &chunkDimensions)
        H5Pset_fletcher32(properties)
        if let compression { H5Pset_deflate(properties, UInt32(max(0, min(9, compression)))) }
        let type = integer ? kiban_h5t_native_int64() : kiban_h5t_native_float()
        let handle = H5Dcreate2(file, dataset, type, space, kiban_h5p_default(), properties, kiban_h5p_default())
        guard handle >= 0 else { throw HDF5Error(path: path, message: "cannot create dataset '\(dataset)'") }
        H5Dclose(handle)
    }

    /// Appends int64 values (whole rows, row after row) to a dataset made by
    /// ``createAppendable(_:integer:rowShape:chunk:compression:)``.
    public func append(_ values: [Int64], to dataset: String) throws {
        try values.withUnsafeBytes { try append(bytes: $0, count: values.count, type: kiban_h5t_native_int64(), to: dataset) }
    }

    /// Appends float32 values (whole rows, row after row) to an appendable dataset.
    public func append(_ values: [Float], to dataset: String) throws {
        try values.withUnsafeBytes { try append(bytes: $0, count: values.count, type: kiban_h5t_native_float(), to: dataset) }
    }

    private func append(bytes: UnsafeRawBufferPointer, count: Int, type: hid_t, to dataset: String) throws {
        guard count > 0 else { return }
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        let current = try datasetShape(handle, dataset)
        let rowSize = current.dropFirst().reduce(1, *)
        guard !current.isEmpty, count % rowSize == 0 else {
            throw HDF5Error(path: path, message: "\(count) values are not whole rows of '\(dataset)' (shape \(current))")
        }
        let rows = count / rowSize
        var newSize = ([current[0] + rows] + current.dropFirst()).map { hsize_t($0) }
        guard H5Dset_extent(handle, &newSize) >= 0 else {
            throw HDF5Error(path: path, message: "'\(dataset)' cannot grow (not created appendable)")
        }
        let fileSpace = H5Dget_space(handle)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t(current[0])] + current.dropFirst().map { _ in hsize_t(0) }
        var length = ([rows] + current.dropFirst()).map { hsize_t($0) }
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &length, nil)
        let memorySpace = H5Screate_simple(Int32(length.count), &length, nil)
        defer { H5Sclose(memorySpace) }
        guard H5Dwrite(handle, type, memorySpace, fileSpace, kiban_h5p_default(), bytes.baseAddress) >= 0 else {
            throw HDF5Error(path: path, message: "cannot append to '\(dataset)'")
        }
    }

    /// Writes everything buffered so far to disk (a reader, or a later `--resume`, sees it even if
    /// this process is killed afterwards).
    public func flush() throws {
        guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw HDF5Error(path: path, message: "cannot flush") }
    }

    /// The shape of a dataset.
    public func shape(of dataset: String) throws -> [Int] {
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        return try datasetShape(handle, dataset)
    }

    /// Reads a float32 dataset (converted by HDF5 from any numeric type).
    public func readFloats(_ dataset: String) throws -> (shape: [Int], values: [Float]) {
        let shape = try shape(of: dataset)
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        try values.withUnsafeMutableBytes { try read(into: $0, type: kiban_h5t_native_float(), dataset: dataset, rows: nil) }
        return (shape, values)
    }

    /// Reads an int64 dataset.
    public func readInts(_ dataset: String) throws -> (shape: [Int], values: [Int64]) {
        let shape = try shape(of: dataset)
        var values = [Int64](repeating: 0, count: shape.reduce(1, *))
        try values.withUnsafeMutableBytes { try read(into: $0, type: kiban_h5t_native_int64(), dataset: dataset, rows: nil) }
        return (shape, values)
    }

    /// Reads rows `range` along the first axis of an int64 dataset (a hyperslab), without reading the rest.
    public func readInts(_ dataset: String, rows range: Range<Int>) throws -> [Int64] {
        let shape = try shape(of: dataset)
        var values = [Int64](repeating: 0, count: range.count * shape.dropFirst().reduce(1, *))
        try values.withUnsafeMutableBytes { try read(into: $0, type: kiban_h5t_native_int64(), dataset: dataset, rows: range) }
        return values
    }

    /// Reads rows `range` along the first axis of a float dataset.
    public func readFloats(_ dataset: String, rows range: Range<Int>) throws -> [Float] {
        let shape = try shape(of: dataset)
        var values = [Float](repeating: 0, count: range.count * shape.dropFirst().reduce(1, *))
        try values.withUnsafeMutableBytes { try read(into: $0, type: kiban_h5t_native_float(), dataset: dataset, rows: range) }
        return values
    }

    /// Whether a dataset or group exists at `path` (parents included).
    public func exists(_ objectPath: String) -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(file, prefix, kiban_h5p_default()) > 0 else { return false }
        }
        return true
    }

    /// Names of the datasets directly inside `group`.
    public func datasetNames(in group: String) throws -> [String] {
        guard exists(group) else { throw HDF5Error(path: path, message: "no group '\(group)'") }
        let handle = H5Gopen2(file, group, kiban_h5p_default())
        guard handle >= 0 else { throw HDF5Error(path: path, message: "'\(group)' is not a group") }
        defer { H5Gclose(handle) }
        var info = H5G_info_t()
        H5Gget_info(handle, &info)
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, kiban_h5p_default())
            guard length >= 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, Int(length) + 1, kiban_h5p_default())
            let name = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var objectInfo = H5O_info_t()
            if H5Oget_info_by_name2(handle, name, &objectInfo, UInt32(H5O_INFO_BASIC), kiban_h5p_default()) >= 0,
                objectInfo.type == H5O_TYPE_DATASET
            {
                names.append(name)
            }
        }
        return names
    }

    // MARK: Attributes

    /// Sets a UTF-8 string attribute (variable length, so h5py reads it as `str`) on `object` ("/" for the root).
    public func setAttribute(_ name: String, _ value: String, on object: String = "/") throws {
        let type = H5Tcopy(kiban_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, kiban_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        try withAttribute(name, on: object, type: type, create: true) { attribute in
            try value.withCString { text in
                var pointer: UnsafePointer<CChar>? = text
                guard H5Awrite(attribute, type, &pointer) >= 0 else {
                    throw HDF5Error(path: path, message: "cannot write attribute '\(name)' on '\(object)'")
                }
            }
        }
    }

    /// Sets a float64 attribute.
    public func setAttribute(_ name: String, _ value: Double, on object: String = "/") throws {
        try withAttribute(name, on: object, type: kiban_h5t_native_double(), create: true) { attribute in
            var copy = value
            guard H5Awrite(attribute, kiban_h5t_native_double(), &copy) >= 0 else {
                throw HDF5Error(path: path, message: "cannot write attribute '\(name)' on '\(object)'")
            }
        }
    }

    /// Sets an int64 attribute.
    public func setAttribute(_ name: String, _ value: Int, on object: String = "/") throws {
        try withAttribute(name, on: object, type: kiban_h5t_native_int64(), create: true) { attribute in
            var copy = Int64(value)
            guard H5Awrite(attribute, kiban_h5t_native_int64(), &copy) >= 0 else {
                throw HDF5Error(path: path, message: "cannot write attribute '\(name)' on '\(object)'")
            }
        }
    }

    /// Reads a string attribute.
    public func stringAttribute(_ name: String, on object: String = "/") throws -> String {
        let type = H5Tcopy(kiban_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, kiban_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        return try withAttribute(name, on: object, type: type, create: false) { attribute in
            var pointer: UnsafeMutablePointer<CChar>?
            guard H5Aread(attribute, type, &pointer) >= 0, let pointer else {
                throw HDF5Error(path: path, message: "attribute '\(name)' on '\(object)' is not a string")
            }
            defer { H5free_memory(pointer) }
            return String(cString: pointer)
        }
    }

    /// Reads a numeric attribute as a Double.
    public func doubleAttribute(_ name: String, on object: String = "/") throws -> Double {
        try withAttribute(name, on: object, type: kiban_h5t_native_double(), create: false) { attribute in
            var value = 0.0
            guard H5Aread(attribute, kiban_h5t_native_double(), &value) >= 0 else {
                throw HDF5Error(path: path, message: "attribute '\(name)' on '\(object)' is not a number")
            }
            return value
        }
    }

    /// Reads an integer attribute.
    public func intAttribute(_ name: String, on object: String = "/") throws -> Int {
        try withAttribute(name, on: object, type: kiban_h5t_native_int64(), create: false) { attribute in
            var value: Int64 = 0
            guard H5Aread(attribute, kiban_h5t_native_int64(), &value) >= 0 else {
                throw HDF5Error(path: path, message: "attribute '\(name)' on '\(object)' is not an integer")
            }
            return Int(value)
        }
    }

    // MARK: Internals

    private func checkCount(_ count: Int, _ shape: [Int], _ dataset: String) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw HDF5Error(path: path, message: "\(count) values do not fill shape \(shape) of '\(dataset)'")
        }
    }

    func ensureParents(of objectPath: String) throws {
        let components = objectPath.split(separator: "/").dropLast()
        var prefix = ""
        for component in components {
            prefix += "/" + component
            if H5Lexists(file, prefix, kiban_h5p_default()) > 0 { continue }
            let group = H5Gcreate2(file, prefix, kiban_h5p_default(), kiban_h5p_default(), kiban_h5p_default())
            guard group >= 0 else { throw HDF5Error(path: path, message: "cannot create group '\(prefix)'") }
            H5Gclose(group)
        }
    }

    private func write(
        bytes: UnsafeRawBufferPointer, type: hid_t, shape: [Int], at dataset: String, chunk: [Int]?, compression: Int?
    ) throws {
        try ensureParents(of: dataset)
        var dimensions = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(shape.count), &dimensions, nil)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(kiban_h5p_dataset_create())
        defer { H5Pclose(properties) }
        if let chunk {
            guard chunk.count == shape.count, chunk.allSatisfy({ $0 > 0 }) else {
                throw HDF5Error(path: path, message: "chunk \(chunk) does not fit shape \(shape) of '\(dataset)'")
            }
            var chunkDimensions = zip(chunk, shape).map { hsize_t(max(1, min($0, $1))) }
            H5Pset_chunk(properties, Int32(chunk.count), &chunkDimensions)
            H5Pset_fletcher32(properties)
            if let compression { H5Pset_deflate(properties, UInt32(max(0, min(9, compression)))) }
        }
        if H5Lexists(file, dataset, kiban_h5p_default()) > 0 { H5Ldelete(file, dataset, kiban_h5p_default()) }
        let handle = H5Dcreate2(file, dataset, type, space, kiban_h5p_default(), properties, kiban_h5p_default())
        guard handle >= 0 else { throw HDF5Error(path: path, message: "cannot create dataset '\(dataset)'") }
        defer { H5Dclose(handle) }
        guard bytes.isEmpty || H5Dwrite(handle, type, kiban_h5s_all_selection(), kiban_h5s_all_selection(), kiban_h5p_default(), bytes.baseAddress) >= 0 else {
            throw HDF5Error(path: path, message: "cannot write dataset '\(dataset)'")
        }
    }

    func openDataset(_ dataset: String) throws -> hid_t {
        guard exists(dataset) else { throw HDF5Error(path: path, message: "no dataset '\(dataset)'") }
        let handle = H5Dopen2(file, dataset, kiban_h5p_default())
        guard handle >= 0 else { throw HDF5Error(path: path, message: "'\(dataset)' is not a readable dataset") }
        return handle
    }

    func datasetShape(_ handle: hid_t, _ dataset: String) throws -> [Int] {
        let space = H5Dget_space(handle)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw HDF5Error(path: path, message: "cannot read the shape of '\(dataset)'") }
        var dimensions = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dimensions, nil)
        return dimensions.map { Int($0) }
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, type: hid_t, dataset: String, rows: Range<Int>?) throws {
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        let shape = try datasetShape(handle, dataset)
        guard !buffer.isEmpty else { return }
        guard let rows else {
            guard H5Dread(handle, type, kiban_h5s_all_selection(), kiban_h5s_all_selection(), kiban_h5p_default(), buffer.baseAddress) >= 0 else {
                throw HDF5Error(path: path, message: "cannot read dataset '\(dataset)' (damaged?)")
            }
            return
        }
        guard let first = shape.first, rows.lowerBound >= 0, rows.upperBound <= first else {
            throw HDF5Error(path: path, message: "rows \(rows) are outside dataset '\(dataset)' of shape \(shape)")
        }
        let fileSpace = H5Dget_space(handle)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: shape.count), count = shape.map { hsize_t($0) }
        start[0] = hsize_t(rows.lowerBound)
        count[0] = hsize_t(rows.count)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memorySpace = H5Screate_simple(Int32(shape.count), &count, nil)
        defer { H5Sclose(memorySpace) }
        guard H5Dread(handle, type, memorySpace, fileSpace, kiban_h5p_default(), buffer.baseAddress) >= 0 else {
            throw HDF5Error(path: path, message: "cannot read rows \(rows) of '\(dataset)' (damaged?)")
        }
    }

    private func withAttribute<Result>(
        _ name: String, on object: String, type: hid_t, create: Bool, _ body: (hid_t) throws -> Result
    ) throws -> Result {
        guard object == "/" || exists(object) else { throw HDF5Error(path: path, message: "no object '\(object)'") }
        let attribute: hid_t
        if create {
            if H5Aexists_by_name(file, object, name, kiban_h5p_default()) > 0 {
                H5Adelete_by_name(file, object, name, kiban_h5p_default())
            }
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            attribute = H5Acreate_by_name(file, object, name, type, space, kiban_h5p_default(), kiban_h5p_default(), kiban_h5p_default())
        } else {
            guard H5Aexists_by_name(file, object, name, kiban_h5p_default()) > 0 else {
                throw HDF5Error(path: path, message: "no attribute '\(name)' on '\(object)'")
            }
            attribute = H5Aopen_by_name(file, object, name, kiban_h5p_default(), kiban_h5p_default())
        }
        guard attribute >= 0 else { throw HDF5Error(path: path, message: "cannot open attribute '\(name)' on '\(object)'") }
        defer { H5Aclose(attribute) }
        return try body(attribute)
    }
}
