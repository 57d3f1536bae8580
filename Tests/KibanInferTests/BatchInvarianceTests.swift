import Foundation
import Testing

@testable import KibanInfer
import KibanTensor

/// Acceptance 1: embeddings and scores do not change with the batch size, the input order, or
/// whether a batch is packed without padding or padded and masked.
///
/// Every reduction Kiban runs itself (attention softmax, LayerNorm, pooling, window averaging,
/// log-softmax) assigns each element to a SIMD lane by its position, and Kiban's GEMM sums in an
/// order that depends only on the inner dimension, so padding and batch neighbours cannot change
/// an output: on CPUs where that GEMM runs (AVX-512), outputs must be bit for bit identical.
/// OpenBLAS's sgemm, used elsewhere, cannot promise this: a row that falls in an edge tile (which
/// depends on how many rows the batch has) is computed by another micro-kernel with another
/// accumulation order, a few float32 ulps apart, so there the bound is 1e-6 relative to each
/// row's largest value (the fallback).
@Suite(.serialized) struct BatchInvarianceTests {
    /// 0 where outputs must be identical, else the fallback bound.
    static let bound: Double = GEMMBackend.active.rowsAreBatchInvariant ? 0 : 1e-6

    static let datasets = ["/layer_0/mean", "/layer_1/bos", "/layer_2/mean", "/layer_2/per_tok"]

    func outputs(batching: BatchLimit, order: [Int]?, tag: String, layout: BatchLayout = .packed) throws -> (embeddings: [String: [String: [Float]]], scores: [String: [String]]) {
        let model = try InferenceModel.load(InferFixture.maskedLMRun.path)
        let input = try InferFixture.proteinFASTA(named: "invariance-\(tag).faa", order: order)
        let folder = try InferFixture.folder("invariance-\(tag)")
        let embeddings = folder.appendingPathComponent("embeddings.h5").path, scores = folder.appendingPathComponent("scores.csv").path
        try InferFixture.infer(model, input: input) { options in
            (options.embeddings, options.scores) = (embeddings, scores)
            (options.layers, options.include) = ([0, 1, -1], [.mean, .bos, .perToken])
            (options.batching, options.long, options.maxTokens, options.layout) = (batching, .window, 64, layout)
        }
        return (try InferFixture.embeddingsByID(embeddings, datasets: Self.datasets), try InferFixture.tableByID(scores))
    }

    @Test func embeddingsAndScoresAreIdenticalForBatchSizesAndOrder() throws {
        let reference = try outputs(batching: .sequences(1), order: nil, tag: "1")
        #expect(reference.embeddings.count == 24 && reference.scores.count == 24)
        let shuffled = (0..<24).map { ($0 * 7 + 5) % 24 }
        let runs: [(BatchLimit, [Int]?, String, BatchLayout)] = [
            (.sequences(7), nil, "7", .packed), (.sequences(64), nil, "64", .packed), (.tokens(2_000), shuffled, "shuffled", .packed),
            (.sequences(7), nil, "7-padded", .padded), (.sequences(1), shuffled, "1-padded", .padded),
        ]
        for (batching, order, tag, layout) in runs {
            let other = try outputs(batching: batching, order: order, tag: tag, layout: layout)
            let embeddings = InferFixture.worstRelativeDifference(other.embeddings, reference.embeddings)
            let scores = InferFixture.worstRelativeDifference(other.scores, reference.scores)
            print("batch invariance, \(batching) \(tag): embeddings worst relative difference \(embeddings), scores \(scores)")
            #expect(embeddings <= Self.bound && scores <= Self.bound, "\(GEMMBackend.active) GEMM, \(batching) \(tag): embeddings \(embeddings), scores \(scores)")
        }
    }

    @Test func predictionsAndTheirMetricsDoNotDependOnTheBatch() throws {
        let (run, _) = try InferFixture.classificationRun(lora: false)
        let (input, truth) = try InferFixture.testPeptides()
        let lines = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").map(String.init)
        let shuffled = InferFixture.inputs.appendingPathComponent("test-peptides-shuffled.csv").path
        let body = Array(lines.dropFirst()), order = body.indices.map { ($0 * 7 + 3) % body.count }
        try ([lines[0]] + order.map { body[$0] }).joined(separator: "\n").appending("\n").write(toFile: shuffled, atomically: true, encoding: .utf8)
        let model = try InferenceModel.load(run.path)
        var tables: [[String: [String]]] = []
        for (batching, file, tag) in [(BatchLimit.sequences(1), input, "1"), (.sequences(7), input, "7"), (.sequences(64), input, "64"),
                                      (.tokens(900), shuffled, "shuffled")] {
            let output = try InferFixture.folder("predictions-\(tag)").appendingPathComponent("p.csv").path
            try InferFixture.infer(model, input: file) { ($0.predictions, $0.batching) = (output, batching) }
            tables.append(try InferFixture.tableByID(output))
        }
        for (index, table) in tables.enumerated().dropFirst() {
            let worst = InferFixture.worstRelativeDifference(table, tables[0])
            #expect(worst <= Self.bound, "run \(index): \(GEMMBackend.active) GEMM, probabilities differ by \(worst)")
            #expect(table.mapValues { $0[0] } == tables[0].mapValues { $0[0] }, "run \(index): a predicted label changed")
            let accuracy = Double(table.filter { truth[$0.key] == $0.value[0] }.count) / Double(truth.count)
            let reference = Double(tables[0].filter { truth[$0.key] == $0.value[0] }.count) / Double(truth.count)
            #expect(accuracy == reference)
        }
    }
}
