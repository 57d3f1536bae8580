import Foundation
import KibanFormats
import KibanTrain

/// The files of one run, opened fresh or for resuming.
final class InferenceOutputs {
    var embeddings: EmbeddingSink?
    var predictions: TableWriter?
    var scores: TableWriter?
    /// Ids each output already holds (resume), by output.
    var present: [Output: Set<String>] = [:]

    enum Output { case embeddings, predictions, scores }

    /// Whether every output already holds `id` (a resumed run skips it).
    func complete(_ id: String) -> Bool {
        !present.isEmpty && present.values.allSatisfy { $0.contains(id) }
    }

    /// Whether `output` still lacks `id`.
    func needs(_ output: Output, _ id: String) -> Bool { !(present[output]?.contains(id) ?? false) }

    func close() throws {
        try embeddings?.close()
        predictions?.close()
        scores?.close()
    }
}

extension InferenceRun {
    /// Column names of the predictions table for this model's head.
    var predictionColumns: [String] {
        switch model.headKind {
        case .classification(let labels)?: ["label"] + labels.map { "probability_\($0)" }
        case .regression?: ["prediction"]
        case .tokenClassification?: ["labels"]
        case nil: []
        }
    }

    static let scoreColumns = ["length", "pseudo_log_likelihood", "pseudo_perplexity"]

    func openOutputs() throws -> InferenceOutputs {
        let outputs = InferenceOutputs()
        for path in [options.embeddings, options.predictions, options.scores].compactMap({ $0 }) {
            if FileManager.default.fileExists(atPath: path) && !options.resume && !options.overwrite {
                throw InferenceError("\(path): exists; --resume continues it (skipping the ids it holds), --overwrite replaces it")
            }
            if options.overwrite { try? FileManager.default.removeItem(atPath: path) }
        }
        if let path = options.embeddings {
            guard path.lowercased().hasSuffix(".h5") || path.lowercased().hasSuffix(".hdf5") else {
                guard !options.resume else {
                    throw InferenceError("--embeddings '\(path)': a folder of .npy arrays cannot be resumed; write an .h5 file to resume")
                }
                outputs.embeddings = try NPYEmbeddingWriter(folder: path, keys: embeddingKeys, width: model.encoder!.hiddenWidth)
                outputs.present[.embeddings] = []
                return try openTables(outputs)
            }
            let attributes = [
                "model": model.summary, "weights_sha256": model.weightsSHA256, "kiban_version": Checkpoint.kibanVersion,
                "layers": layers.map(String.init).joined(separator: ","), "include": options.include.map(\.rawValue).joined(separator: ","),
                "long_policy": options.long.rawValue, "max_tokens": String(limit), "input": options.input,
            ]
            let writer = try HDF5EmbeddingWriter(
                path: path, keys: embeddingKeys, width: model.encoder!.hiddenWidth, attributes: attributes, resume: options.resume)
            outputs.embeddings = writer
            outputs.present[.embeddings] = Set(writer.existingIDs)
        }
        return try openTables(outputs)
    }

    private func openTables(_ outputs: InferenceOutputs) throws -> InferenceOutputs {
        if let path = options.predictions {
            let writer = try TableWriter(path: path, columns: predictionColumns, resume: options.resume)
            outputs.predictions = writer
            outputs.present[.predictions] = Set(writer.existingIDs)
        }
        if let path = options.scores {
            let columns = options.variants == nil ? Self.scoreColumns : ["mutant", "score"]
            let writer = try TableWriter(path: path, columns: columns, resume: options.resume)
            outputs.scores = writer
            outputs.present[.scores] = Set(writer.existingIDs)
        }
        return outputs
    }
}
