import Foundation
import KibanFormats

extension Trainer {
    /// Writes checkpoint `name` (rank 0; every rank takes part in gathering ZeRO-sharded moments).
    func saveCheckpoint(_ name: String, beforeRename: (() throws -> Void)? = nil) throws {
        updateSeconds()
        let started = Date()
        var optimizerState = parallel.gatheredState(optimizer)
        let modelTensors = tensorParallel?.wholeTensors(task.module, buffer: optimizer.buffer)
        if let tensorParallel { optimizerState = tensorParallel.wholeState(optimizerState, buffer: optimizer.buffer) }
        let gathered = Date()
        checkpointSeconds.gathering += gathered.timeIntervalSince(started)
        defer { checkpointSeconds.writing += Date().timeIntervalSince(gathered) }
        guard writes else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = Checkpoint.Metadata(
            step: state.step, runConfig: String(decoding: try encoder.encode(config), as: UTF8.self), dataHashes: data.fileHashes,
            trainerState: String(decoding: try encoder.encode(state), as: UTF8.self),
            taskInfo: String(decoding: try encoder.encode(taskInfo), as: UTF8.self))
        try Checkpoint.save(
            to: output.appendingPathComponent(name), model: task.module, modelTensors: modelTensors, optimizer: optimizer,
            optimizerState: optimizerState, generator: generator, metadata: metadata, beforeRename: beforeRename)
    }

    /// Continues from `last.h5` when `run.resume` is on and it exists: model, optimizer, generator,
    /// data position and the best-so-far; the metrics log is cut back to that update.
    func resumeIfPossible() throws {
        let last = output.appendingPathComponent("last.h5")
        guard config.run.resume, FileManager.default.fileExists(atPath: last.path) else {
            if writes { log.truncate(afterStep: 0) }
            return
        }
        let metadata = try Checkpoint.load(from: last, into: task.module, optimizer: optimizer, generator: generator, slicing: tensorParallel)
        state = try JSONDecoder().decode(TrainerState.self, from: Data(metadata.trainerState.utf8))
        guard writes else { return }
        log.truncate(afterStep: state.step)
        ProgressReporter.note("resuming from \(last.path) at update \(state.step)")
    }
}
