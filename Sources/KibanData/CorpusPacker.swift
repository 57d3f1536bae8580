import Foundation
import KibanFormats

/// Streams FASTA and CSV files into ``PackedCorpus`` HDF5 files in bounded memory: tokens are
/// buffered up to ``flushTokens`` and appended, so memory does not grow with the corpus.
public enum CorpusPacker {
    /// Tokens buffered before each append to the file.
    public static let flushTokens = 1 << 18

    /// What a pack produced.
    public struct Summary: Codable, Sendable {
        public let sequences: Int
        public let tokens: Int
        public let inputBytes: Int
        public let seconds: Double
        public var megabytesPerSecond: Double { Double(inputBytes) / 1e6 / max(seconds, 1e-9) }
    }

    /// Packs a FASTA file with the ESM-2 alphabet (`<cls>` residues `<eos>`).
    public static func packFASTA(input: String, output: URL, policy: ResiduePolicy = .mapToUnknown) throws -> Summary {
        try pack(input: input, output: output, kind: "protein") { writer in
            let reader = try FASTAReader(path: input, policy: policy)
            while let record = try reader.next() { try writer.add(tokens: ProteinAlphabet.encode(record.sequence)) }
        }
    }

    /// Packs a CSV of protein sequences with a 0/1 (or integer) label and an optional
    /// `train`/`val`/`test` split column.
    public static func packProteinCSV(
        input: String, output: URL, sequenceColumn: String = "sequence", labelColumn: String = "label", splitColumn: String? = "split"
    ) throws -> Summary {
        let table = try CSVTable.read(path: input, requiredColumns: [sequenceColumn, labelColumn] + (splitColumn.map { [$0] } ?? []))
        let sequences = try table.strings(sequenceColumn), labels = try table.integers(labelColumn)
        let splits = try splitColumn.map { try splitCodes(table, column: $0) }
        return try pack(input: input, output: output, kind: "protein") { writer in
            for sequence in sequences { try writer.add(tokens: ProteinAlphabet.encode(sequence.uppercased())) }
            try writer.file.write(labels.map(Int64.init), shape: [labels.count], at: "/labels")
            if let splits { try writer.file.write(splits, shape: [splits.count], at: "/split") }
        }
    }

    /// Packs a CSV of chemical formulas and numeric targets: each formula becomes its elements'
    /// atomic numbers (tokens) and fractions.
    public static func packCompositionCSV(
        input: String, output: URL, formulaColumn: String = "formula", targetColumn: String = "target"
    ) throws -> Summary {
        let table = try CSVTable.read(path: input, requiredColumns: [formulaColumn, targetColumn])
        let formulas = try table.formulas(formulaColumn), targets = try table.doubles(targetColumn)
        return try pack(input: input, output: output, kind: "composition") { writer in
            try writer.file.createAppendable("/fractions", integer: false)
            for formula in formulas {
                let fractions = formula.fractions
                try writer.add(tokens: fractions.map(\.element.atomicNumber), fractions: fractions.map { Float($0.fraction) })
            }
            try writer.file.write(targets.map(Float.init), shape: [targets.count], at: "/targets")
        }
    }

    /// Appends sequences to the token, offset (and fraction) datasets through bounded buffers.
    final class Writer {
        let file: HDF5File
        private var tokens: [Int64] = [], offsets: [Int64] = []
        private var fractions: [Float] = []
        private(set) var sequenceCount = 0, tokenCount = 0

        init(file: HDF5File) throws {
            self.file = file
            try file.createAppendable("/tokens", integer: true, compression: 1)
            try file.createAppendable("/offsets", integer: true, compression: 1)
            offsets.append(0)
        }

        /// Adds one sequence; composition corpora pass one fraction per token.
        func add(tokens sequence: [Int], fractions sequenceFractions: [Float] = []) throws {
            tokens.append(contentsOf: sequence.map(Int64.init))
            fractions.append(contentsOf: sequenceFractions)
            tokenCount += sequence.count
            sequenceCount += 1
            offsets.append(Int64(tokenCount))
            if tokens.count >= CorpusPacker.flushTokens || offsets.count >= CorpusPacker.flushTokens { try flush() }
        }

        func flush() throws {
            try file.append(tokens, to: "/tokens")
            try file.append(offsets, to: "/offsets")
            if !fractions.isEmpty { try file.append(fractions, to: "/fractions") }
            tokens.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            fractions.removeAll(keepingCapacity: true)
        }
    }

    private static func pack(input: String, output: URL, kind: String, _ body: (Writer) throws -> Void) throws -> Summary {
        let start = Date()
        let temporary = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).tmp-\(getpid())")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let file = try HDF5File(path: temporary.path, mode: .create)
        let writer = try Writer(file: file)
        try body(writer)
        try writer.flush()
        try file.setAttribute("kind", kind)
        try file.setAttribute("tokenizer", kind == "protein" ? "esm2" : "atomic-number")
        try file.setAttribute("source", URL(fileURLWithPath: input).lastPathComponent)
        try file.setAttribute("source_sha256", try SHA256.hexDigest(ofFile: URL(fileURLWithPath: input)))
        file.close()
        if FileManager.default.fileExists(atPath: output.path) { try FileManager.default.removeItem(at: output) }
        try FileManager.default.moveItem(at: temporary, to: output)
        let bytes = (try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
        return Summary(sequences: writer.sequenceCount, tokens: writer.tokenCount, inputBytes: bytes, seconds: Date().timeIntervalSince(start))
    }

    private static func splitCodes(_ table: CSVTable, column: String) throws -> [Int64] {
        let codes: [String: Int64] = ["train": 0, "val": 1, "valid": 1, "validation": 1, "test": 2]
        return try table.strings(column).enumerated().map { row, value in
            guard let code = codes[value.lowercased()] else {
                throw DataError(file: table.file, line: table.line(ofRow: row), column: column, message: "split '\(value)' is not train, val or test")
            }
            return code
        }
    }
}
