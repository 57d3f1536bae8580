import ArgumentParser
import Foundation
import KibanKernels
import KibanTensor

/// `kiban bench ops`: throughput of each C kernel on each CPU path the machine supports,
/// single-threaded, against the scalar reference path.
struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "Softmax, layernorm, GELU, AdamW and sum kernels: GB/s per path vs scalar.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Rows of the row kernels.")
    var rows = 2048

    @Option(help: "Row length (elementwise kernels use rows × columns elements).")
    var columns = 1024

    struct Row: Codable {
        let kernel: String
        let path: String
        let gigabytesPerSecond: Double
        let millisecondsPerCall: Double
        /// This path's time over the scalar path's time.
        let speedupOverScalar: Double
    }

    struct Report: Codable {
        let rows: Int
        let columns: Int
        let results: [Row]
    }

    /// One kernel: how many bytes a call moves, and the call on a prepared buffer set.
    struct Kernel {
        let name: String
        let bytes: Int
        let call: () -> Void
    }

    func run() throws {
        let buffers = Buffers(rows: rows, columns: columns)
        let paths = [KB_PATH_SCALAR, KB_PATH_AVX2, KB_PATH_AVX512].filter { kb_path_supported($0) != 0 }
        let initialPath = kb_active_path()
        defer { _ = kb_set_path(initialPath) }
        var results: [Row] = []
        for kernel in buffers.kernels() {
            var scalarSeconds = 0.0
            for path in paths {
                _ = kb_set_path(path)
                let seconds = Timing.interleavedMedians(warmup: options.warmup, repeats: options.repeats, [kernel.call])[0]
                if path == KB_PATH_SCALAR { scalarSeconds = seconds }
                results.append(Row(
                    kernel: kernel.name, path: String(cString: kb_path_name(path)),
                    gigabytesPerSecond: Double(kernel.bytes) / seconds * 1e-9, millisecondsPerCall: seconds * 1e3,
                    speedupOverScalar: scalarSeconds / seconds))
            }
        }
        let report = Report(rows: rows, columns: columns, results: results)
        if options.json {
            print(try BenchOutput.json(report))
        } else {
            print("C kernels, 1 thread, \(rows)×\(columns) float32")
            print(BenchOutput.table(
                header: ["kernel", "path", "GB/s", "ms/call", "× scalar"],
                rows: results.map { row in
                    [row.kernel, row.path, BenchOutput.format(row.gigabytesPerSecond, digits: 2),
                     BenchOutput.format(row.millisecondsPerCall, digits: 3), BenchOutput.format(row.speedupOverScalar, digits: 2)]
                }))
        }
    }
}

/// Inputs and outputs for every kernel, allocated once.
private struct Buffers {
    let rows: Int, columns: Int
    let x: Tensor, y: Tensor, dy: Tensor, dx: Tensor
    let weight: Tensor, bias: Tensor, dweight: Tensor, dbias: Tensor, mean: Tensor, rstd: Tensor
    let m: Tensor, v: Tensor

    init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        let generator = RandomGenerator(seed: 7)
        let shape = [rows, columns]
        x = Tensor.randn(shape, generator: generator)
        dy = Tensor.randn(shape, generator: generator)
        y = Tensor.zeros(shape)
        dx = Tensor.zeros(shape)
        weight = Tensor.randn([columns], generator: generator)
        bias = Tensor.randn([columns], generator: generator)
        dweight = Tensor.zeros([columns])
        dbias = Tensor.zeros([columns])
        mean = Tensor.zeros([rows])
        rstd = Tensor.zeros([rows])
        m = Tensor.zeros(shape)
        v = Tensor.ones(shape)
    }

    func kernels() -> [BenchOps.Kernel] {
        let n = rows * columns, bytes = n * MemoryLayout<Float>.stride
        let (x, y, dy, dx) = (x.pointer, y.pointer, dy.pointer, dx.pointer)
        let (w, b, dw, db, mean, rstd) = (weight.pointer, bias.pointer, dweight.pointer, dbias.pointer, mean.pointer, rstd.pointer)
        let (m, v, rows, columns) = (m.pointer, v.pointer, rows, columns)
        kb_layernorm_forward(x, w, b, y, mean, rstd, rows, columns, 1e-5)
        return [
            .init(name: "softmax", bytes: 2 * bytes) { kb_softmax_rows(x, y, rows, columns) },
            .init(name: "log_softmax", bytes: 2 * bytes) { kb_log_softmax_rows(x, y, rows, columns) },
            .init(name: "softmax_backward", bytes: 3 * bytes) { kb_softmax_rows_backward(y, dy, dx, rows, columns) },
            .init(name: "layernorm_forward", bytes: 2 * bytes) { kb_layernorm_forward(x, w, b, y, mean, rstd, rows, columns, 1e-5) },
            .init(name: "layernorm_backward", bytes: 3 * bytes) {
                kb_layernorm_backward(x, w, mean, rstd, dy, dx, dw, db, rows, columns)
            },
            .init(name: "gelu_tanh_forward", bytes: 2 * bytes) { kb_gelu_tanh_forward(x, y, n) },
            .init(name: "gelu_tanh_backward", bytes: 3 * bytes) { kb_gelu_tanh_backward(x, dy, dx, n) },
            .init(name: "gelu_erf_forward", bytes: 2 * bytes) { kb_gelu_erf_forward(x, y, n) },
            .init(name: "gelu_erf_backward", bytes: 3 * bytes) { kb_gelu_erf_backward(x, dy, dx, n) },
            .init(name: "adamw", bytes: 7 * bytes) {
                kb_adamw_update(y, dy, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.1, 0.001)
            },
            .init(name: "sum_squares", bytes: bytes) { _ = kb_sum_squares(x, n) },
        ]
    }
}
