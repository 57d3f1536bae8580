import ArgumentParser
import CBLAS
import Foundation
import KibanTensor

/// `kiban bench gemm`: sgemm through the tensor API next to a direct `cblas_sgemm` call.
struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "Square sgemm GFLOP/s: Tensor.matmul against cblas_sgemm, interleaved.")

    @OptionGroup var options: BenchOptions

    @Option(parsing: .upToNextOption, help: "Matrix sizes N (N×N @ N×N).")
    var sizes: [Int] = [512, 1024, 2048]

    struct Row: Codable {
        let size: Int
        let tensorGflops: Double
        let cblasGflops: Double
        /// tensor / cblas.
        let ratio: Double
        /// tensor GFLOP/s as a fraction of the FP32 peak.
        let fractionOfPeak: Double
    }

    struct Report: Codable {
        let threads: Int
        let openblasCoretype: String
        /// The kernel family OpenBLAS chose at load time.
        let openblasCore: String
        let peakGflops: Double
        let rows: [Row]
    }

    func run() throws {
        let threads = Threading.threadCount
        let peak = options.peakGflops ?? MachinePeak.measure(threads: threads)
        let generator = RandomGenerator(seed: 1)
        let rows = sizes.map { n -> Row in
            let a = Tensor.randn([n, n], generator: generator), b = Tensor.randn([n, n], generator: generator)
            let direct = Tensor.empty([n, n])
            let (tensorSeconds, cblasSeconds) = {
                let medians = Timing.interleavedMedians(warmup: options.warmup, repeats: options.repeats, [
                    { _ = a.matmul(b) },
                    {
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                            a.pointer, Int32(n), b.pointer, Int32(n), 0, direct.pointer, Int32(n))
                    },
                ])
                return (medians[0], medians[1])
            }()
            let flops = 2 * pow(Double(n), 3)
            let tensorGflops = flops / tensorSeconds * 1e-9, cblasGflops = flops / cblasSeconds * 1e-9
            return Row(
                size: n, tensorGflops: tensorGflops, cblasGflops: cblasGflops, ratio: tensorGflops / cblasGflops,
                fractionOfPeak: tensorGflops / peak)
        }
        let report = Report(
            threads: threads, openblasCoretype: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)",
            openblasCore: String(cString: openblas_get_corename()), peakGflops: peak, rows: rows)
        if options.json {
            print(try BenchOutput.json(report))
        } else {
            print("sgemm, \(threads) threads, OPENBLAS_CORETYPE=\(report.openblasCoretype) (core \(report.openblasCore)), FP32 peak \(BenchOutput.format(peak)) GFLOP/s")
            print(BenchOutput.table(
                header: ["N", "Tensor GFLOP/s", "cblas GFLOP/s", "Tensor/cblas", "% of peak"],
                rows: rows.map { row in
                    ["\(row.size)", BenchOutput.format(row.tensorGflops), BenchOutput.format(row.cblasGflops),
                     BenchOutput.format(row.ratio, digits: 3), BenchOutput.format(100 * row.fractionOfPeak)]
                }))
        }
    }
}

/// Table and JSON printing shared by the benchmarks.
enum BenchOutput {
    static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func format(_ value: Double, digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }

    static func table(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let line = { (cells: [String]) in
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line))
            .joined(separator: "\n")
    }
}
