import ArgumentParser

/// `kiban`: the command-line front of the Kiban libraries. It parses and reports; the libraries do the work.
@main
struct Kiban: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiban",
        abstract: "Scientific foundation models on CPUs: fine-tuning, inference, evaluation and benchmarks.",
        subcommands: [
            FinetuneCommand.self, InferCommand.self, EvalCommand.self, Bench.self, DataCommand.self, CollectivesCommand.self,
        ])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats = 7

    @Option(help: "Untimed warm-up runs before timing.")
    var warmup = 2

    @Option(help: "FP32 peak of the machine in GFLOP/s; measured with an FMA loop when omitted.")
    var peakGflops: Double?
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kernel micro-benchmarks (release builds only give meaningful numbers).",
        subcommands: [BenchGEMM.self, BenchOps.self, BenchTrain.self, BenchInfer.self, BenchAttention.self, BenchWorkloadsCommand.self])
}
