import Foundation
import KibanFormats
import KibanTestSupport
import Testing

@testable import KibanInfer

/// Resume, limits and every bad input of acceptance 7: a clear error naming the file and place,
/// and nothing already written lost.
@Suite(.serialized) struct ResumeAndInputTests {
    static let datasets = ["/layer_2/mean", "/layer_2/per_tok"]

    func model() throws -> InferenceModel { try InferenceModel.load(InferFixture.maskedLMRun.path) }

    func configure(_ folder: URL) -> (inout InferenceOptions) -> Void {
        { options in
            options.embeddings = folder.appendingPathComponent("e.h5").path
            options.scores = folder.appendingPathComponent("s.csv").path
            (options.include, options.long, options.maxTokens) = ([.mean, .perToken], .window, 64)
        }
    }

    @Test func resumingAfterALimitEqualsOneFullRun() throws {
        let input = try InferFixture.proteinFASTA(named: "resume.faa")
        let full = try InferFixture.folder("resume-full"), parts = try InferFixture.folder("resume-parts")
        try InferFixture.infer(try model(), input: input, configure(full))
        try InferFixture.infer(try model(), input: input) { configure(parts)(&$0); $0.limit = 9 }
        #expect(try InferFixture.tableByID(parts.appendingPathComponent("s.csv").path).count == 9)
        // An interruption in the middle of a line: the partial line is dropped on resume.
        let handle = try FileHandle(forWritingTo: parts.appendingPathComponent("s.csv"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("seq9,12,-3".utf8))
        try handle.close()
        try InferFixture.infer(try model(), input: input) { configure(parts)(&$0); $0.resume = true }
        // The same ids in the same order, and values within the batch-invariance bound.
        let fullScores = try String(contentsOf: full.appendingPathComponent("s.csv"), encoding: .utf8)
        let resumedScores = try String(contentsOf: parts.appendingPathComponent("s.csv"), encoding: .utf8)
        let firstColumn = { (text: String) in text.split(separator: "\n").map { $0.prefix { $0 != "," } } }
        #expect(firstColumn(resumedScores) == firstColumn(fullScores))
        let scores = InferFixture.worstRelativeDifference(
            try InferFixture.tableByID(parts.appendingPathComponent("s.csv").path), try InferFixture.tableByID(full.appendingPathComponent("s.csv").path))
        let a = try InferFixture.embeddingsByID(full.appendingPathComponent("e.h5").path, datasets: Self.datasets)
        let b = try InferFixture.embeddingsByID(parts.appendingPathComponent("e.h5").path, datasets: Self.datasets)
        #expect(scores <= 1e-6 && InferFixture.worstRelativeDifference(b, a) <= 1e-6)
    }

    @Test func existingOutputsAreNeverOverwrittenWithoutBeingAsked() throws {
        let input = try InferFixture.proteinFASTA(named: "exists.faa")
        let folder = try InferFixture.folder("exists")
        let scores = folder.appendingPathComponent("s.csv").path
        try "precious\n".write(toFile: scores, atomically: true, encoding: .utf8)
        let error = #expect(throws: InferenceError.self) {
            try InferFixture.infer(try model(), input: input) { $0.scores = scores }
        }
        #expect(error?.description.contains("exists; --resume") == true)
        #expect(try String(contentsOfFile: scores, encoding: .utf8) == "precious\n")
    }

    func expectError(_ text: String, file name: String, containing parts: [String], configure: (inout InferenceOptions) -> Void = { _ in }) throws {
        let path = InferFixture.inputs.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let output = try InferFixture.folder("bad-\(name)").appendingPathComponent("s.csv").path
        let error = #expect(throws: (any Error).self) {
            try InferFixture.infer(try model(), input: path) { $0.scores = output; configure(&$0) }
        }
        let message = error.map { "\($0)" } ?? ""
        for part in parts { #expect(message.contains(part), "'\(message)' lacks '\(part)'") }
    }

    @Test func badInputsNameTheFileAndPlace() throws {
        try expectError(">a\nMKV\n>b\nMKL\n>a\nMKW\n", file: "repeated.faa", containing: ["repeated.faa:5", "id 'a'", "repeated.faa:1"])
        try expectError("", file: "empty.faa", containing: ["empty.faa", "empty"])
        try expectError("id,sequence\np1,MKV\np2,MK1V\n", file: "unknown.csv", containing: ["unknown.csv:3", "id 'p2'", "'1' at position 3"])
        try expectError("id,sequence\np1,MKV\n", file: "column.csv", containing: ["column.csv", "no such column", "'seq'"]) {
            $0.inputOptions.textColumn = "seq"
        }
        let long = String(repeating: "MKVLA", count: 20)
        try expectError(">short\nMKV\n>long one\n\(long)\n", file: "long.faa", containing: ["long.faa:3", "id 'long'", "102 tokens", "at most 64"]) {
            $0.maxTokens = 64
        }
    }

    @Test func anEmptyCSVGivesNoRowsAndNoError() throws {
        let path = InferFixture.inputs.appendingPathComponent("header-only.csv").path
        try "id,sequence\n".write(toFile: path, atomically: true, encoding: .utf8)
        let output = try InferFixture.folder("header-only").appendingPathComponent("s.csv").path
        try InferFixture.infer(try model(), input: path) { $0.scores = output }
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "id,length,pseudo_log_likelihood,pseudo_perplexity\n")
    }

    @Test func truncationKeepsTheFirstTokensAndBothSpecialTokens() throws {
        let long = String(repeating: "MKVLA", count: 20)
        let path = InferFixture.inputs.appendingPathComponent("truncate.faa").path
        try ">long\n\(long)\n>first\n\(long.prefix(62))\n".write(toFile: path, atomically: true, encoding: .utf8)
        let folder = try InferFixture.folder("truncate")
        try InferFixture.infer(try model(), input: path) { options in
            options.embeddings = folder.appendingPathComponent("e.h5").path
            (options.long, options.maxTokens) = (.truncate, 64)
        }
        let rows = try InferFixture.embeddingsByID(folder.appendingPathComponent("e.h5").path, datasets: ["/layer_2/mean"])
        #expect(InferFixture.worstRelativeDifference(["x": rows["long"]!], ["x": rows["first"]!]) <= 1e-6)
    }
}

/// The `.npy` folder format holds the same numbers as the HDF5 file, under a header NumPy reads.
@Suite struct NPYOutputTests {
    @Test func npyArraysEqualTheHDF5Datasets() throws {
        let model = try InferenceModel.load(InferFixture.maskedLMRun.path)
        let input = try InferFixture.proteinFASTA(named: "npy.faa")
        let folder = try InferFixture.folder("npy")
        for path in [folder.appendingPathComponent("e.h5").path, folder.appendingPathComponent("arrays").path] {
            try InferFixture.infer(model, input: input) { options in
                (options.embeddings, options.include, options.long, options.maxTokens) = (path, [.mean, .perToken], .window, 64)
            }
        }
        let hdf5 = try HDF5File(path: folder.appendingPathComponent("e.h5").path, mode: .read)
        defer { hdf5.close() }
        for (dataset, file) in [("/layer_2/mean", "layer_2_mean.npy"), ("/layer_2/per_tok", "layer_2_per_tok.npy")] {
            let (shape, values) = try hdf5.readFloats(dataset)
            let data = try Data(contentsOf: folder.appendingPathComponent("arrays/\(file)"))
            let header = String(decoding: data[10..<NPYEmbeddingWriter.headerSize], as: UTF8.self)
            #expect(data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
            #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (\(shape[0]), \(shape[1]))"), "\(header)")
            let floats = data[NPYEmbeddingWriter.headerSize...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(InferFixture.worstRelativeDifference(["x": ["d": floats]], ["x": ["d": values]]) <= 1e-6)
        }
        let ids = try String(contentsOf: folder.appendingPathComponent("arrays/ids.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(ids == (try hdf5.readStrings("/ids")))
    }
}
