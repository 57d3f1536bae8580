import CHDF5
import Foundation

/// One-dimensional datasets of variable-length UTF-8 strings (sequence ids, for example), which
/// h5py reads as `f["ids"].asstr()[:]`.
extension HDF5File {
    /// Creates an empty string dataset that grows with ``append(strings:to:)``.
    public func createAppendableStrings(_ dataset: String, chunk: Int = 4096) throws {
        try ensureParents(of: dataset)
        var dimensions: [hsize_t] = [0], maximum: [hsize_t] = [kiban_h5s_unlimited()]
        let space = H5Screate_simple(1, &dimensions, &maximum)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(kiban_h5p_dataset_create())
        defer { H5Pclose(properties) }
        var chunkDimensions: [hsize_t] = [hsize_t(max(1, chunk))]
        H5Pset_chunk(properties, 1, &chunkDimensions)
        let type = Self.utf8StringType()
        defer { H5Tclose(type) }
        let handle = H5Dcreate2(file, dataset, type, space, kiban_h5p_default(), properties, kiban_h5p_default())
        guard handle >= 0 else { throw HDF5Error(path: path, message: "cannot create string dataset '\(dataset)'") }
        H5Dclose(handle)
    }

    /// Appends strings to a dataset made by ``createAppendableStrings(_:chunk:)``.
    public func append(strings: [String], to dataset: String) throws {
        guard !strings.isEmpty else { return }
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        let current = try datasetShape(handle, dataset)
        guard current.count == 1 else { throw HDF5Error(path: path, message: "'\(dataset)' is not one-dimensional") }
        var newSize: [hsize_t] = [hsize_t(current[0] + strings.count)]
        guard H5Dset_extent(handle, &newSize) >= 0 else {
            throw HDF5Error(path: path, message: "'\(dataset)' cannot grow (not created appendable)")
        }
        let fileSpace = H5Dget_space(handle)
        defer { H5Sclose(fileSpace) }
        var start: [hsize_t] = [hsize_t(current[0])], length: [hsize_t] = [hsize_t(strings.count)]
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &length, nil)
        let memorySpace = H5Screate_simple(1, &length, nil)
        defer { H5Sclose(memorySpace) }
        let type = Self.utf8StringType()
        defer { H5Tclose(type) }
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        guard H5Dwrite(handle, type, memorySpace, fileSpace, kiban_h5p_default(), &pointers) >= 0 else {
            throw HDF5Error(path: path, message: "cannot append to '\(dataset)'")
        }
    }

    /// Reads a whole one-dimensional string dataset.
    public func readStrings(_ dataset: String) throws -> [String] {
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        let shape = try datasetShape(handle, dataset)
        guard shape.count == 1 else { throw HDF5Error(path: path, message: "'\(dataset)' is not one-dimensional") }
        guard shape[0] > 0 else { return [] }
        let type = Self.utf8StringType()
        defer { H5Tclose(type) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: shape[0])
        guard H5Dread(handle, type, kiban_h5s_all_selection(), kiban_h5s_all_selection(), kiban_h5p_default(), &pointers) >= 0 else {
            throw HDF5Error(path: path, message: "'\(dataset)' is not a readable string dataset")
        }
        defer { pointers.forEach { H5free_memory($0) } }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }

    /// Shrinks an appendable dataset to its first `rows` rows (resuming after a partial write).
    public func truncate(_ dataset: String, toRows rows: Int) throws {
        let handle = try openDataset(dataset)
        defer { H5Dclose(handle) }
        let current = try datasetShape(handle, dataset)
        guard let first = current.first, rows <= first else { return }
        var newSize = ([rows] + current.dropFirst()).map { hsize_t($0) }
        guard H5Dset_extent(handle, &newSize) >= 0 else { throw HDF5Error(path: path, message: "'\(dataset)' cannot shrink") }
    }

    private static func utf8StringType() -> hid_t {
        let type = H5Tcopy(kiban_h5t_c_s1())
        H5Tset_size(type, kiban_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }
}
