import Foundation
import Testing

/// Starts `kiban` under `mpirun` (or alone) from the tests, the way a user would. OpenMPI is among
/// the packages CI installs, so multi-rank tests run there rather than being skipped.
enum MPIRun {
    /// The `kiban` executable built beside the test bundle.
    static let kiban = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kiban")

    /// `mpirun` on PATH, or a failed expectation naming the package to install.
    static func mpirun() throws -> URL {
        try #require(
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) },
            "mpirun is not on PATH: install openmpi-bin (.ci/install-deps)")
    }

    /// A process running `kiban arguments` at `ranks` ranks (plain `kiban` at 0), one thread per
    /// rank, output collected in `output`.
    static func process(ranks: Int, _ arguments: [String], output: Pipe) throws -> Process {
        let process = Process()
        if ranks > 0 {
            process.executableURL = try mpirun()
            process.arguments = (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "-np", "\(ranks)", kiban.path] + arguments
        } else {
            (process.executableURL, process.arguments) = (kiban, arguments)
        }
        // Containers often forbid the cross-memory attach that OpenMPI's shared-memory transport tries first.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_MCA_btl_vader_single_copy_mechanism": "none", "KIBAN_NUM_THREADS": "1"]) { $1 }
        (process.standardOutput, process.standardError) = (output, output)
        return process
    }

    /// Runs `kiban arguments` at `ranks` ranks (0: without mpirun) to the end: exit status and output.
    @discardableResult
    static func run(ranks: Int, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = Pipe()
        let process = try process(ranks: ranks, arguments, output: output)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
