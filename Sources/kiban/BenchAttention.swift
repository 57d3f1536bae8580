import ArgumentParser
import Foundation
import KibanKernels
import KibanTensor

// Dim legend: B batch, H heads, T tokens (queries = keys), D head width.

/// `kiban bench attention`: forward and forward + backward time and the memory of self-attention at
/// one sequence length, on the path the kernel setting selects (AVX-512: the fused kernel; any other
/// `KIBAN_KERNELS` path: per-head GEMMs over a (B, H, T, T) score tensor). Run it once per length:
/// the peak RSS of a process only grows.
struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention", abstract: "Self-attention forward and backward: milliseconds, GFLOP/s and peak memory at one length.")

    @Option(help: "Tokens T (queries and keys).")
    var sequenceLength = 1024

    @Option(help: "Sequences B.")
    var batchSize = 1

    @Option(help: "Heads H.")
    var heads = 8

    @Option(help: "Head width D.")
    var width = 64

    @Flag(help: "Causal (decoder) attention.")
    var causal = false

    @Option(help: "Timed repetitions (the median is reported).")
    var steps = 5

    @Option(help: "Untimed warm-up repetitions.")
    var warmup = 2

    @Flag(help: "Print JSON instead of a line of text.")
    var json = false

    struct Report: Codable {
        let path: String
        let batchSize: Int, heads: Int, sequenceLength: Int, width: Int, causal: Bool, threads: Int
        let forwardMilliseconds: Double, forwardBackwardMilliseconds: Double
        /// 4·B·H·T²·D for the forward pass and 2.5× that for the backward (halved when causal).
        let forwardGflops: Double, forwardBackwardGflops: Double
        /// Resident memory before the first step and at the peak, in MB.
        let residentBeforeMegabytes: Double, peakResidentMegabytes: Double
    }

    func run() throws {
        let shape = [batchSize, heads, sequenceLength, width]
        let generator = RandomGenerator(seed: 3)
        let (q, k, v) = (0..<3).map { _ in Tensor.randn(shape, generator: generator, requiresGrad: true) }.tuple
        let weights = Tensor.randn(shape, generator: generator)
        let scale = 1 / Float(width).squareRoot()
        let attend = { Tensor.scaledDotProductAttention(query: q, key: k, value: v, causal: causal, scale: scale) }
        let before = PeakMemory.currentMegabytes()
        let forward = Timing.steps(warmup: warmup, repeats: steps) { _ = withNoGrad { attend() } }
        let both = Timing.steps(warmup: warmup, repeats: steps) {
            (attend() * weights).sum().backward()
            for x in [q, k, v] { x.grad = nil }
        }
        let flops = 4 * Double(batchSize * heads * width) * Double(sequenceLength) * Double(sequenceLength) * (causal ? 0.5 : 1)
        let report = Report(
            path: kb_active_path() == KB_PATH_AVX512 ? "fused" : "unfused (\(String(cString: kb_path_name(kb_active_path()))))",
            batchSize: batchSize, heads: heads, sequenceLength: sequenceLength, width: width, causal: causal,
            threads: Threading.threadCount, forwardMilliseconds: forward.wallSeconds * 1e3,
            forwardBackwardMilliseconds: both.wallSeconds * 1e3, forwardGflops: flops / forward.wallSeconds * 1e-9,
            forwardBackwardGflops: 3.5 * flops / both.wallSeconds * 1e-9, residentBeforeMegabytes: before,
            peakResidentMegabytes: PeakMemory.residentMegabytes())
        if json {
            print(try BenchOutput.json(report))
        } else {
            print(String(
                format: "attention %@ B %d H %d T %d D %d%@: forward %.2f ms (%.0f GFLOP/s), forward+backward %.2f ms (%.0f GFLOP/s), RSS %.0f → peak %.0f MB",
                report.path, batchSize, heads, sequenceLength, width, causal ? " causal" : "", report.forwardMilliseconds,
                report.forwardGflops, report.forwardBackwardMilliseconds, report.forwardBackwardGflops, before,
                report.peakResidentMegabytes))
        }
    }
}

extension Array {
    /// The first three elements as a tuple.
    fileprivate var tuple: (Element, Element, Element) { (self[0], self[1], self[2]) }
}
