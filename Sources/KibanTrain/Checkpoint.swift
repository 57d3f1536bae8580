import Foundation
import KibanFormats
import KibanNN
import KibanOptim
import KibanTensor

/// Training checkpoints in HDF5, readable by h5py:
///
/// ```
/// /model/<dotted parameter name>      float32, the parameter's global shape (tied weights under each key)
/// /optimizer/first_moment, second_moment   float32 (N), the flat buffer order
/// /optimizer/parameter_names          attribute: the buffer's names in order (JSON)
/// /rng/state                          int64 (4), xoshiro256** words
/// root attributes: format, kiban_version, step, optimizer_step, created, model_config, run_config,
///                  data_sha256 (JSON {file: hash})
/// ```
/// Every dataset is chunked with a Fletcher-32 checksum, so damaged bytes fail to load. Writes are
/// atomic: a temporary file in the same folder is fsynced and renamed over the target.
public enum Checkpoint {
    public static let formatName = "kiban-checkpoint-1"
    public static let kibanVersion = "0.1.0"

    /// What a checkpoint holds besides the tensors.
    public struct Metadata: Equatable, Sendable {
        public var step: Int
        public var modelConfig: String
        public var runConfig: String
        public var dataHashes: [String: String]
        public var created: String
        /// The training loop's own state as JSON (data position, best metric, …); "{}" outside a trainer.
        public var trainerState: String
        /// What prediction needs besides the weights (``TaskInfo`` as JSON); "{}" outside a trainer.
        public var taskInfo: String

        public init(
            step: Int, modelConfig: String = "{}", runConfig: String = "{}", dataHashes: [String: String] = [:], created: String? = nil,
            trainerState: String = "{}", taskInfo: String = "{}"
        ) {
            self.taskInfo = taskInfo
            self.step = step
            self.modelConfig = modelConfig
            self.runConfig = runConfig
            self.dataHashes = dataHashes
            self.created = created ?? ISO8601DateFormatter().string(from: Date())
            self.trainerState = trainerState
        }
    }

    /// Writes model parameters, optimizer moments and RNG state atomically to `url`. A ZeRO-sharded
    /// optimizer passes the moments its ranks gathered as `optimizerState`; a tensor-parallel model
    /// its whole tensors, gathered from the ranks, as `modelTensors`.
    ///
    /// `beforeRename` runs after the temporary file is complete and before it replaces `url`; tests
    /// use it to simulate a crash at the worst moment.
    public static func save(
        to url: URL, model: Module, modelTensors: [String: Tensor]? = nil, optimizer: AdamW? = nil, optimizerState: AdamW.State? = nil,
        generator: RandomGenerator? = nil, metadata: Metadata, beforeRename: (() throws -> Void)? = nil
    ) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        defer { try? FileManager.default.removeItem(at: temporary) }
        do {
            let file = try HDF5File(path: temporary.path, mode: .create)
            for (name, tensor) in modelTensors ?? model.stateDict() {
                try file.write(tensor.toArray(), shape: tensor.shape, at: "/model/\(name)", chunk: chunkShape(tensor.shape))
            }
            if let optimizer {
                let state = optimizerState ?? optimizer.state
                try file.write(state.firstMoment, shape: [state.firstMoment.count], at: "/optimizer/first_moment", chunk: [1 << 20])
                try file.write(state.secondMoment, shape: [state.secondMoment.count], at: "/optimizer/second_moment", chunk: [1 << 20])
                try file.setAttribute("optimizer_step", state.step)
                try file.setAttribute("parameter_names", try json(optimizer.buffer.parameters.map(\.name)), on: "/optimizer")
            }
            if let generator {
                try file.write(generator.state.map { Int64(bitPattern: $0) }, shape: [generator.state.count], at: "/rng/state", chunk: [4])
            }
            try file.setAttribute("format", formatName)
            try file.setAttribute("kiban_version", kibanVersion)
            try file.setAttribute("step", metadata.step)
            try file.setAttribute("created", metadata.created)
            try file.setAttribute("model_config", metadata.modelConfig)
            try file.setAttribute("run_config", metadata.runConfig)
            try file.setAttribute("data_sha256", try json(metadata.dataHashes))
            try file.setAttribute("trainer_state", metadata.trainerState)
            try file.setAttribute("task_info", metadata.taskInfo)
            file.close()
            try synchronize(temporary.path)
            try beforeRename?()
            guard rename(temporary.path, url.path) == 0 else {
                throw HDF5Error(path: url.path, message: "cannot rename the finished checkpoint into place: \(String(cString: strerror(errno)))")
            }
            try synchronize(url.deletingLastPathComponent().path)
        }
    }

    /// Loads a checkpoint into `model` (strict by default: every missing, unexpected or
    /// mis-shaped name is listed in the error) and, when given, the optimizer and generator.
    /// Returns the checkpoint's metadata. `slicing` turns the whole tensors and moments stored into
    /// the slices of a tensor-parallel rank.
    @discardableResult
    public static func load(
        from url: URL, into model: Module, optimizer: AdamW? = nil, generator: RandomGenerator? = nil, strict: Bool = true,
        slicing: CheckpointSlicing? = nil
    ) throws -> Metadata {
        let file = try HDF5File(path: url.path, mode: .read)
        defer { file.close() }
        guard (try? file.stringAttribute("format")) == formatName else {
            throw HDF5Error(path: url.path, message: "not a Kiban checkpoint (attribute 'format' is not \(formatName))")
        }
        let whole = try modelTensors(in: file)
        let parameters = try slicing?.local(whole, file: url.path) ?? whole
        do {
            try model.load(stateDict: parameters, strict: strict)
        } catch let report as LoadReport {
            throw HDF5Error(path: url.path, message: "checkpoint does not match the model:\n\(report)")
        }
        if let optimizer {
            let names = try JSONDecoder().decode([String].self, from: Data(try file.stringAttribute("parameter_names", on: "/optimizer").utf8))
            guard names == optimizer.buffer.parameters.map(\.name) else {
                throw HDF5Error(path: url.path, message: "optimizer state was saved for other parameters (or another order)")
            }
            let state = AdamW.State(
                step: try file.intAttribute("optimizer_step"), firstMoment: try file.readFloats("/optimizer/first_moment").values,
                secondMoment: try file.readFloats("/optimizer/second_moment").values)
            try optimizer.restore(slicing?.local(state, buffer: optimizer.buffer) ?? state)
        }
        if let generator {
            generator.state = try file.readInts("/rng/state").values.map { UInt64(bitPattern: $0) }
        }
        return try metadata(in: file)
    }

    /// The metadata of a checkpoint without loading its tensors.
    public static func metadata(at url: URL) throws -> Metadata {
        let file = try HDF5File(path: url.path, mode: .read)
        defer { file.close() }
        guard (try? file.stringAttribute("format")) == formatName else {
            throw HDF5Error(path: url.path, message: "not a Kiban checkpoint (attribute 'format' is not \(formatName))")
        }
        return try metadata(in: file)
    }

    private static func metadata(in file: HDF5File) throws -> Metadata {
        Metadata(
            step: try file.intAttribute("step"), modelConfig: try file.stringAttribute("model_config"),
            runConfig: try file.stringAttribute("run_config"),
            dataHashes: try JSONDecoder().decode([String: String].self, from: Data(try file.stringAttribute("data_sha256").utf8)),
            created: try file.stringAttribute("created"), trainerState: (try? file.stringAttribute("trainer_state")) ?? "{}",
            taskInfo: (try? file.stringAttribute("task_info")) ?? "{}")
    }

    /// The model tensors of a checkpoint by dotted name, without a model to load them into (e.g.
    /// to start a fine-tune from a pre-trained encoder).
    public static func modelTensors(at url: URL) throws -> [String: Tensor] {
        let file = try HDF5File(path: url.path, mode: .read)
        defer { file.close() }
        guard (try? file.stringAttribute("format")) == formatName else {
            throw HDF5Error(path: url.path, message: "not a Kiban checkpoint (attribute 'format' is not \(formatName))")
        }
        return try modelTensors(in: file)
    }

    private static func modelTensors(in file: HDF5File) throws -> [String: Tensor] {
        var parameters: [String: Tensor] = [:]
        for name in try file.datasetNames(in: "/model") {
            let (shape, values) = try file.readFloats("/model/\(name)")
            parameters[name] = Tensor(shape: shape, values: values)
        }
        return parameters
    }

    /// Chunks of at most ~1M elements along the first axis; nil for a scalar (HDF5 cannot chunk it).
    static func chunkShape(_ shape: [Int]) -> [Int]? {
        guard let first = shape.first else { return nil }
        let rowSize = max(1, shape.dropFirst().reduce(1, *))
        return [max(1, min(first, (1 << 20) / rowSize))] + shape.dropFirst()
    }

    private static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// fsync a file or folder so a rename after it cannot expose an incomplete file.
    private static func synchronize(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw HDF5Error(path: path, message: "cannot open to fsync") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw HDF5Error(path: path, message: "fsync failed") }
    }
}

/// Maps the whole tensors a checkpoint stores to the slices one rank of a tensor-parallel model holds.
public protocol CheckpointSlicing {
    /// This rank's slices of whole model tensors (by dotted name) read from `file`.
    func local(_ tensors: [String: Tensor], file: String) throws -> [String: Tensor]
    /// This rank's part of optimizer moments stored for whole tensors, in `buffer`'s order.
    func local(_ state: AdamW.State, buffer: ParameterBuffer) -> AdamW.State
}
