import Foundation
import KibanData
import KibanFormats
import Testing

/// A rank that is killed or fails ends the whole `mpirun` within seconds with a message naming it,
/// and the last checkpoint stays complete: a run resumed from it (at another rank count) continues
/// exactly as an uninterrupted run.
@Suite("Rank failures", .serialized)
struct RankFailureTests {
    /// Processes whose environment says they are rank `rank` of an OpenMPI job and whose command
    /// line mentions `marker`.
    static func processes(rank: Int, marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                  let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") && String(decoding: commandLine, as: UTF8.self).contains(marker)
        }
    }

    /// Waits up to `seconds` for `process` to end; kills it and returns false if it does not.
    static func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard process.isRunning else { return true }
        process.terminate()
        process.waitUntilExit()
        return false
    }

    @Test func aKilledRankStopsTheRunAndItsLastCheckpointResumesExactly() throws {
        let folder = try DataParallelTests.fixture("killed")
        let output = folder.appendingPathComponent("two")
        let settings = ["train.max_steps=120", "train.eval_every=40", "train.checkpoint_every=4"]
        let arguments = ["finetune", "--config", folder.appendingPathComponent("run.yaml").path, "--set", "run.output_dir=\(output.path)"]
            + settings.flatMap { ["--set", $0] }
        let pipe = Pipe()
        let process = try MPIRun.process(ranks: 2, arguments, output: pipe)
        try process.run()
        let last = output.appendingPathComponent("last.h5")
        let appeared = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: last.path) && process.isRunning && Date() < appeared { usleep(5_000) }
        let victims = Self.processes(rank: 1, marker: output.path)
        try #require(victims.count == 1 && process.isRunning, "rank 1 of the running job not found (\(victims))")
        kill(victims[0], SIGKILL)
        let killed = Date()
        let ended = Self.waitForExit(process, seconds: 30)
        let seconds = Date().timeIntervalSince(killed)
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(ended, "mpirun still running 30 s after rank 1 was killed:\n\(text)")
        #expect(process.terminationStatus != 0)
        #expect(text.contains("rank 1"), "the message does not name rank 1:\n\(text)")
        print("mpirun ended \(String(format: "%.2f", seconds)) s after rank 1 was killed")

        let resumedFrom = try HDF5File(path: last.path, mode: .read).intAttribute("step")
        #expect(resumedFrom >= 4 && resumedFrom < 120)
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "two", settings + ["train.accumulation=2"])
        _ = try DataParallelTests.finetune(folder, ranks: 0, output: "uninterrupted", settings + ["train.accumulation=2"])
        let resumed = try DataParallelTests.trajectory(output).train
        let uninterrupted = try DataParallelTests.trajectory(folder.appendingPathComponent("uninterrupted")).train
        #expect(resumed.count == 120)
        #expect(resumed == uninterrupted, "updates after \(resumedFrom) differ from the uninterrupted run")
    }

    @Test func aRankReadingBadDataStopsTheRunNamingItselfAndTheFile() throws {
        let folder = try DataParallelTests.fixture("bad-data")
        let corpus = folder.appendingPathComponent("corpus.h5")
        var tokens: [Int64] = [], offsets: [Int64] = [0]
        for (index, record) in try FASTAReader.readAll(path: folder.appendingPathComponent("proteins.faa").path).enumerated() {
            var ids = ProteinAlphabet.encode(record.sequence).map(Int64.init)
            if index == 30 { ids[5] = 99 }  // a training sequence (the held-out indices are 7, 8, 12, …, 29, 32, …)
            tokens += ids
            offsets.append(Int64(tokens.count))
        }
        let file = try HDF5File(path: corpus.path, mode: .create)
        try file.write(tokens, shape: [tokens.count], at: "/tokens")
        try file.write(offsets, shape: [offsets.count], at: "/offsets")
        try file.setAttribute("kind", "protein")
        file.close()

        let started = Date()
        let (status, text) = try MPIRun.run(ranks: 2, [
            "finetune", "--config", folder.appendingPathComponent("run.yaml").path, "--set", "data.train=\(corpus.path)",
            "--set", "train.max_steps=60",
            "--set", "run.output_dir=\(folder.appendingPathComponent("run").path)",
        ])
        #expect(status != 0)
        #expect(Date().timeIntervalSince(started) < 30)
        let named = (0..<2).contains { text.contains("rank \($0) of 2 failed: \(corpus.path): sequence 30: token id 99") }
        #expect(named, "no message naming the rank, the file and the sequence:\n\(text)")
    }

    @Test func aNonFiniteLossStopsEveryRankWithTheUpdateNamed() throws {
        let folder = try DataParallelTests.fixture("non-finite")
        let started = Date()
        let (status, text) = try MPIRun.run(ranks: 2, [
            "finetune", "--config", folder.appendingPathComponent("run.yaml").path, "--set", "optimizer.lr=1e30",
            "--set", "train.clip_norm=0", "--set", "schedule.warmup_steps=0", "--set", "run.output_dir=\(folder.appendingPathComponent("run").path)",
        ])
        #expect(status != 0)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(text.contains("of 2 failed: update") && text.contains("training stopped"), "\(text)")
    }

    @Test func evaluationRefusesSeveralRanks() throws {
        let (status, text) = try MPIRun.run(ranks: 2, ["eval", "--task", "t.yaml", "--model", "m", "--output", "o"])
        #expect(status != 0)
        #expect(text.contains("kiban eval runs as one process; start it without mpirun"), "\(text)")
    }
}
