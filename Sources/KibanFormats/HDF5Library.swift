import CHDF5

/// The HDF5 library Kiban links (checkpoints and datasets build on it).
public enum HDF5Library {
    /// The linked library's version as "major.minor.release".
    public static func version() -> String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }

    /// The native float32 type id, read through the C shim (the macro does not import into Swift).
    public static var nativeFloat: hid_t { kiban_h5t_native_float() }
}
