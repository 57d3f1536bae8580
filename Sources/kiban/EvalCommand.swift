import ArgumentParser
import Foundation
import KibanDistributed
import KibanEval
import KibanInfer
import KibanNN
import KibanTensor

/// `kiban eval`: runs a registry task on a model, with intervals and paired comparisons.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on a registry task (Configs/tasks/*.yaml): metrics with 95 % bootstrap intervals, paired comparisons.",
        discussion: """
            Writes results.json (metrics, intervals, per-fold values, comparisons, checkpoint/task/data SHA-256, \
            Kiban version and git commit), report.html (self-contained, inline SVG) and the predictions it computed to --output. For k-fold tasks --model \
            holds {fold}. Example: kiban eval --task Configs/tasks/amp-vs-uniprot.yaml --model runs/demo/finetune \
            --compare kmer=kmer_test.csv --output runs/demo/eval
            """)

    @Option(help: "Task file (Configs/tasks/<task>.yaml).")
    var task: String

    @Option(help: "Run folder, Hugging Face folder or checkpoint; k-fold tasks: a path with {fold}.")
    var model: String

    @Option(help: "Repeated training seeds, comma-separated (--model then holds {seed}); the estimate is their mean.")
    var seeds: String?

    @Option(help: "Name of the evaluated model in tables (default: the --model path).")
    var name: String?

    @Option(help: "Another model's predictions, NAME=FILE with columns id,prediction[,score] (repeatable).")
    var compare: [String] = []

    @Option(help: "int8: evaluate the model with W8A8 Linear layers.")
    var quantize: Quantization?

    @Option(help: "Folder for results.json and predictions.")
    var output: String

    @Option(help: "Tokens per forward pass (packed ESM-2 batches count their tokens, padded ones sequences × the longest).")
    var tokensPerBatch = 16_384

    @Option(help: "Threads (0: KIBAN_NUM_THREADS, else all cores).")
    var threads = 0

    @Flag(help: "No progress display.")
    var quiet = false

    func run() throws {
        try Launch.requireOneProcess("kiban eval")
        if threads > 0 { Threading.threadCount = threads }
        let evaluationTask = try EvaluationTask.load(path: task)
        var options = EvaluationOptions(model: model, output: output)
        options.compare = try compare.map { entry in
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("--compare \(entry): give NAME=FILE")
            }
            return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
        options.batching = .tokens(tokensPerBatch)
        options.modelOptions.quantization = quantize
        if let seeds {
            let values = seeds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, !values.contains(nil) else { throw ValidationError("--seeds \(seeds): give comma-separated integers") }
            options.seeds = values.compactMap { $0 }
        }
        (options.showProgress, options.name) = (!quiet, name)
        let results = try Evaluation.run(task: evaluationTask, taskFile: task, options: options)
        print("\(evaluationTask.name): \(results.examples) examples; \(results.protocolDescription)")
        let label = name ?? model
        for metric in results.metrics {
            let folds = (metric.folds.isEmpty ? "" : "  folds " + metric.folds.map { String(format: "%.4f", $0) }.joined(separator: " "))
                + (metric.seeds.isEmpty ? "" : "  seeds " + metric.seeds.map { String(format: "%.4f", $0) }.joined(separator: " "))
            print(String(format: "  %@ %@ %.4f [%.4f, %.4f]%@", label, metric.metric, metric.estimate, metric.lower, metric.upper, folds))
        }
        for (other, metrics) in results.otherMetrics.sorted(by: { $0.key < $1.key }) {
            for metric in metrics {
                print(String(format: "  %@ %@ %.4f [%.4f, %.4f]", other, metric.metric, metric.estimate, metric.lower, metric.upper))
            }
        }
        for comparison in results.comparisons {
            var line = String(format: "  %@ − %@, %@: %+.4f [%+.4f, %+.4f], paired bootstrap p = %.3f", label, comparison.other,
                              comparison.metric, comparison.difference, comparison.lower, comparison.upper, comparison.pValue)
            if let only = comparison.mcnemarModelOnlyCorrect, let otherOnly = comparison.mcnemarOtherOnlyCorrect, let p = comparison.mcnemarPValue {
                line += String(format: "; McNemar: %d vs %d discordant, exact p = %.3f", only, otherOnly, p)
            }
            print(line)
        }
        print("results: \(output)/results.json")
    }
}
