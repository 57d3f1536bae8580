import Foundation

/// Where tests write files for the Python interop checks (`Tests/Interop/check_interop.py`):
/// `$KIBAN_INTEROP_DIR`, or a temporary folder of this process when unset.
public enum InteropFolder {
    public static let url: URL = {
        let path = ProcessInfo.processInfo.environment["KIBAN_INTEROP_DIR"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("kiban-interop-\(getpid())").path
        return URL(fileURLWithPath: path)
    }()
}
