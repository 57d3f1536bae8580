import ArgumentParser
import Foundation
import KibanData

/// `kiban data`: turn scientific files into packed HDF5 corpora.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Prepare training data.", subcommands: [Pack.self])

    /// `kiban data pack`: FASTA or CSV → a tokenized HDF5 corpus, streamed in bounded memory.
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack FASTA (proteins) or CSV (sequence,label[,split] or formula,target) into an HDF5 corpus.")

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case auto, fasta, proteinCSV = "protein-csv", compositionCSV = "composition-csv"
        }

        @Option(help: "Input file.")
        var input: String

        @Option(help: "Output .h5 file (written atomically).")
        var output: String

        @Option(help: "auto (by extension and header), fasta, protein-csv or composition-csv.")
        var format: Format = .auto

        @Flag(help: "Print JSON instead of a line of text.")
        var json = false

        func run() throws {
            let outputURL = URL(fileURLWithPath: output)
            let summary: CorpusPacker.Summary
            switch try resolvedFormat() {
            case .fasta: summary = try CorpusPacker.packFASTA(input: input, output: outputURL)
            case .proteinCSV: summary = try CorpusPacker.packProteinCSV(input: input, output: outputURL)
            case .compositionCSV, .auto: summary = try CorpusPacker.packCompositionCSV(input: input, output: outputURL)
            }
            let peak = PeakMemory.residentMegabytes()
            if json {
                print(try BenchOutput.json(Report(summary: summary, megabytesPerSecond: summary.megabytesPerSecond, peakResidentMegabytes: peak)))
            } else {
                print(String(
                    format: "%@: %d sequences, %d tokens, %.1f MB/s, peak RSS %.0f MB", output, summary.sequences, summary.tokens,
                    summary.megabytesPerSecond, peak))
            }
        }

        struct Report: Codable {
            let summary: CorpusPacker.Summary
            let megabytesPerSecond: Double
            let peakResidentMegabytes: Double
        }

        private func resolvedFormat() throws -> Format {
            guard format == .auto else { return format }
            let lower = input.lowercased()
            if [".fa", ".faa", ".fasta", ".fas"].contains(where: lower.hasSuffix) { return .fasta }
            let header = (try? String(contentsOfFile: input, encoding: .utf8))?.split(separator: "\n").first?.lowercased() ?? ""
            if header.contains("formula") { return .compositionCSV }
            if header.contains("sequence") { return .proteinCSV }
            throw ValidationError("cannot tell the format of \(input); pass --format")
        }
    }
}
