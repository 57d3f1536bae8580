import Foundation

/// What a finished run reports (`summary.json`).
public struct TrainingSummary: Codable, Sendable {
    public let name: String
    public let seed: Int
    public let steps: Int
    public let bestStep: Int
    /// `validation_*` and `test_*` metrics of the best checkpoint.
    public let metrics: [String: Double]
    public let wallSeconds: Double
    public let parameters: Int
    public let trainableParameters: Int
    public let bestCheckpointSHA256: String
    public let dataSHA256: [String: String]
    /// Data-parallel ranks, ranks per tensor-parallel group (all ranks = their product), and
    /// examples per update (batch size × data-parallel ranks × accumulation).
    public let ranks: Int
    public let tensorParallel: Int
    public let globalBatch: Int
    /// Seconds this session spent gathering checkpoint tensors from the ranks (ZeRO, tensor
    /// parallel) and writing checkpoints (rank 0).
    public let checkpointGatherSeconds: Double
    public let checkpointWriteSeconds: Double

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
