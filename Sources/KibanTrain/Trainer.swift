import Foundation
import KibanData
import KibanDistributed
import KibanFormats
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor

/// Where the loop stands; saved in every checkpoint so a resumed run continues exactly.
struct TrainerState: Codable, Equatable {
    /// Optimizer updates done.
    var step = 0
    var epoch = 0
    /// Micro-batches of `epoch` already consumed.
    var batchInEpoch = 0
    /// Best monitored value so far and the update it was reached at.
    var best: Double?
    var bestStep = 0
    var evaluationsWithoutImprovement = 0
    /// The update of the latest evaluation (−1 before the first).
    var evaluatedStep = -1
    /// Wall-clock seconds spent in `run()` up to this state, over every resumed session.
    var seconds = 0.0

    init() {}

    /// Fields a checkpoint from an older Kiban lacks keep their defaults.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainerState()
        step = try c.decodeIfPresent(Int.self, forKey: .step) ?? d.step
        epoch = try c.decodeIfPresent(Int.self, forKey: .epoch) ?? d.epoch
        batchInEpoch = try c.decodeIfPresent(Int.self, forKey: .batchInEpoch) ?? d.batchInEpoch
        best = try c.decodeIfPresent(Double.self, forKey: .best)
        bestStep = try c.decodeIfPresent(Int.self, forKey: .bestStep) ?? d.bestStep
        evaluationsWithoutImprovement = try c.decodeIfPresent(Int.self, forKey: .evaluationsWithoutImprovement) ?? 0
        evaluatedStep = try c.decodeIfPresent(Int.self, forKey: .evaluatedStep) ?? d.evaluatedStep
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? d.seconds
    }
}

/// A training run failed in a way the user must act on.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
}

/// One optimizer update, as the JSONL log records it.
public struct StepRecord: Codable, Sendable {
    public let step: Int
    public let epoch: Int
    public let loss: Double
    public let learningRate: Double
    public let gradientNorm: Double
    public let tokensPerSecond: Double
}

/// The fine-tuning loop: accumulation, schedule, clipping, evaluation every N updates, early
/// stopping on the best checkpoint, periodic atomic checkpoints, exact resume and a stop on
/// non-finite values. Outputs in `run.output_dir`: `last.h5`, `best.h5`, `metrics.jsonl`,
/// `curves.svg`, `summary.json` (and `adapter/` for LoRA runs).
///
/// Under `mpirun` it trains data parallel (see ``DataParallel``): the global batch is
/// `train.batch_size × ranks × train.accumulation`, evaluation is split over the ranks and its
/// statistics summed, and rank 0 alone writes files and reports progress.
public final class Trainer {
    public let config: RunConfiguration
    public let data: TrainingData
    public let task: TaskModel
    /// Drives initialisation, then dropout, masking and crops: before each micro-batch it is set
    /// to that micro-batch's own stream (``stream(epoch:batch:)``), so a micro-batch draws the same
    /// numbers on whichever rank computes it. Saved in checkpoints.
    public let generator: RandomGenerator
    let optimizer: AdamW
    let parallel: DataParallel
    /// Tensor parallelism (`train.tensor_parallel` > 1): the group and split of the model.
    let tensorParallel: TensorParallelPlan?
    /// All of the run's ranks (data × tensor parallel).
    let world: Communicator
    let output: URL
    let log: MetricsLog
    /// The base weights' load report (printed at the start).
    public let baseReport: String
    /// What prediction needs besides the weights (`task.json`).
    public let taskInfo: TaskInfo
    /// Called after every update (progress displays; tests use it to interrupt a run).
    public var onStep: ((StepRecord) -> Void)?
    var state = TrainerState()

    /// Reads the data, builds the model, attaches adapters and the optimizer; every configuration
    /// and data error surfaces here, before any training.
    public convenience init(config: RunConfiguration, communicator: Communicator = SingleProcessCommunicator()) throws {
        try self.init(config: config, data: Trainer.loadData(for: config), communicator: communicator)
    }

    /// Reads and checks the run's data, tokenized for its model family, before any model is built.
    public static func loadData(for config: RunConfiguration) throws -> TrainingData {
        try TrainingDataLoader.load(config, tokenizer: TaskModelBuilder.tokenizer(for: config))
    }

    /// As ``init(config:communicator:)`` with data that ``loadData(for:)`` read for this `config`.
    public init(config: RunConfiguration, data: TrainingData, communicator: Communicator = SingleProcessCommunicator()) throws {
        self.config = config
        output = URL(fileURLWithPath: config.run.outputDir)
        let tokenizer = try TaskModelBuilder.tokenizer(for: config)
        self.data = data
        generator = RandomGenerator(seed: UInt64(config.run.seed))
        (task, baseReport) = try TaskModelBuilder.build(config, data: data, tokenizer: tokenizer, generator: generator)
        if config.lora.enabled { try LoRA.apply(to: task.module, configuration: config.lora.configuration, generator: generator) }
        let split = config.train.tensorParallel
        guard communicator.size % split == 0 else {
            throw TrainingError(description: "key 'train.tensor_parallel': \(communicator.size) ranks do not split into groups of \(split)")
        }
        world = communicator
        let dataParallel = split > 1 ? communicator.split(color: communicator.rank % split, key: communicator.rank) : communicator
        tensorParallel = split > 1
            ? try TensorParallelPlan.shard(task, over: TensorParallelGroup(communicator.split(color: communicator.rank / split, key: communicator.rank)))
            : nil
        let buffer = ParameterBuffer(module: task.module, paddedTo: dataParallel.size * DataParallel.block)
        parallel = DataParallel(communicator: dataParallel, stage: config.train.zeroStage, parameterCount: buffer.count)
        optimizer = AdamW(
            buffer: buffer, learningRate: config.optimizer.lr, beta1: config.optimizer.beta1, beta2: config.optimizer.beta2,
            epsilon: config.optimizer.eps, weightDecay: config.optimizer.weightDecay,
            shard: config.train.zeroStage > 0 ? parallel.shard : nil)
        if parallel.ranks > 1 { parallel.broadcastParameters(buffer) }
        taskInfo = try Trainer.taskInfo(config: config, data: data, task: task)
        if world.rank == 0 {
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            try RunFolder.writeTaskFiles(taskInfo, config: config, to: output)
        }
        log = MetricsLog(url: output.appendingPathComponent("metrics.jsonl"))
    }

    /// Whether this process writes files and reports progress (rank 0).
    var writes: Bool { world.rank == 0 }

    /// Trainable scalars this rank holds, and the whole model's (they differ under tensor parallelism).
    public var trainableParameters: (here: Int, whole: Int) {
        (optimizer.buffer.count, tensorParallel?.wholeCount(optimizer.buffer) ?? optimizer.buffer.count)
    }

    /// Examples per update over all ranks: `batch_size × data-parallel ranks × accumulation`.
    public var globalBatch: Int { config.train.batchSize * parallel.ranks * config.train.accumulation }

    private static func taskInfo(config: RunConfiguration, data: TrainingData, task: TaskModel) throws -> TaskInfo {
        let labelNames: [String]
        switch config.task.kind {
        case .sequenceClassification, .compositionClassification: labelNames = (0..<config.task.numLabels).map(String.init)
        case .tokenClassification: labelNames = data.tokenClasses.map(String.init)
        case .maskedLM, .sequenceRegression, .compositionRegression: labelNames = []
        }
        let tokenizer = switch config.model.family {
        case .esm: "protein"
        case .bert: "wordpiece"
        case .materials: "composition"
        }
        return TaskInfo(
            kind: config.task.kind, architecture: try TaskModelBuilder.architecture(for: config), tokenizer: tokenizer,
            maxLength: config.data.maxLength, labelNames: labelNames, targetMean: task.targetNormalization.mean,
            targetScale: task.targetNormalization.scale)
    }

    /// Micro-batches per update over all ranks.
    var microBatchesPerUpdate: Int { config.train.accumulation * parallel.ranks }

    /// Micro-batches per epoch and updates in the whole run.
    var plan: (batches: Int, updates: Int) {
        let batches = (data.train.count + config.train.batchSize - 1) / config.train.batchSize
        let perEpoch = (batches + microBatchesPerUpdate - 1) / microBatchesPerUpdate
        return (batches, config.train.maxSteps > 0 ? config.train.maxSteps : perEpoch * config.train.epochs)
    }

    var schedule: LearningRateSchedule {
        let total = plan.updates
        let warmup = config.schedule.warmupSteps > 0 ? config.schedule.warmupSteps : Int(config.schedule.warmupRatio * Double(total))
        switch config.schedule.kind {
        case "warmup-linear": return .warmupLinear(warmupSteps: warmup, totalSteps: total)
        case "constant": return .constant
        default: return .warmupCosine(warmupSteps: warmup, totalSteps: total, minimumFactor: config.schedule.minFactor)
        }
    }

    /// The micro-batches of `epoch` (example indices), the same for the same seed and epoch.
    func batches(epoch: Int) -> [[Int]] {
        Batching.lengthBucketed(
            Array(0..<data.train.count), lengths: { self.data.train.length(of: $0) }, batchSize: config.train.batchSize,
            seed: UInt64(config.run.seed) &* 1_000_003 &+ UInt64(epoch), bucketBatches: config.train.lengthBucketing)
    }

    /// Trains to the end (or an early stop), then evaluates the best checkpoint, with matrix products
    /// in `train.precision`.
    @discardableResult
    public func run() throws -> TrainingSummary {
        try GEMMPrecision.with(config.train.precision) { try runToTheEnd() }
    }

    private func runToTheEnd() throws -> TrainingSummary {
        try resumeIfPossible()
        sessionStart = (Date(), state.seconds)
        let progress = writes ? ProgressReporter(total: plan.updates, firstStep: state.step) : nil
        while state.step < plan.updates && !earlyStopped {
            let batches = batches(epoch: state.epoch)
            while state.batchInEpoch < batches.count && state.step < plan.updates && !earlyStopped {
                let group = Array(batches[state.batchInEpoch..<min(batches.count, state.batchInEpoch + microBatchesPerUpdate)])
                let record = try update(group)
                state.batchInEpoch += group.count
                if writes { log.append(record) }
                progress?.update(record)
                onStep?(record)
                if config.train.evalEvery > 0 && state.step % config.train.evalEvery == 0 { try evaluateAndKeepBest() }
                if config.train.checkpointEvery > 0 && state.step % config.train.checkpointEvery == 0 { try saveCheckpoint("last.h5") }
            }
            if state.batchInEpoch >= batches.count {
                state.epoch += 1
                state.batchInEpoch = 0
                if config.train.evalEvery == 0 { try evaluateAndKeepBest() }
            }
        }
        progress?.finish()
        if state.evaluatedStep != state.step { try evaluateAndKeepBest() }
        updateSeconds()
        return try finish(wallSeconds: state.seconds)
    }

    /// Seconds this session spent on checkpoints: gathering shards from the ranks, and writing.
    var checkpointSeconds = (gathering: 0.0, writing: 0.0)

    /// When this session started and the seconds already spent before it.
    private var sessionStart = (Date(), 0.0)

    func updateSeconds() {
        state.seconds = sessionStart.1 + Date().timeIntervalSince(sessionStart.0)
    }

    /// The random stream of micro-batch `batch` of `epoch` (its dropout, masking and crops): fixed by
    /// the seed and the batch's place in the run, whichever rank computes it.
    func stream(epoch: Int, batch: Int) -> RandomGenerator {
        RandomGenerator(seed: UInt64(config.run.seed) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(epoch) << 32 ^ UInt64(batch))
    }

    /// One optimizer update over the global `group` of micro-batches (this rank computes its share;
    /// each micro-batch's loss is weighted by its share of the group's examples). Each micro-batch's
    /// gradient is computed on its own and added to the sum in micro-batch order, then summed over
    /// the ranks.
    func update(_ group: [[Int]]) throws -> StepRecord {
        let started = Date()
        task.module.train()
        optimizer.zeroGradients()
        let total = Double(group.map(\.count).reduce(0, +))
        var loss = 0.0, tokens = 0.0
        let local = parallel.localMicroBatches(groupSize: group.count, accumulation: config.train.accumulation)
        let gradients = optimizer.buffer.gradients
        let sum = local.count > 1 ? Storage(count: gradients.count, repeating: 0) : nil
        for position in local {
            generator.state = stream(epoch: state.epoch, batch: state.batchInEpoch + position).state
            let (batchLoss, _, batchTokens) = task.forward(try data.train.examples(at: group[position]), true, generator)
            let share = Double(group[position].count) / total
            loss += Double(batchLoss.item()) * share
            tokens += Double(batchTokens)
            if position > local.lowerBound { optimizer.zeroGradients() }
            (batchLoss * Float(share)).backward()
            if let sum { for i in 0..<gradients.count { sum.pointer[i] += gradients.pointer[i] } }
        }
        if let sum { gradients.pointer.update(from: sum.pointer, count: gradients.count) }
        if parallel.ranks > 1 {
            parallel.reduceGradients(optimizer.buffer)
            (loss, tokens) = { ($0[0], $0[1]) }(parallel.sum([loss, tokens]))
        }
        guard loss.isFinite else { throw nonFinite("the training loss is \(loss)") }
        let norm = tensorParallel?.gradientNorm(optimizer.buffer) ?? parallel.gradientNorm(optimizer.buffer)
        guard norm.isFinite else { throw nonFinite("the gradient norm is \(norm)") }
        let clipFactor = config.train.clipNorm / (norm + 1e-6)
        if config.train.clipNorm > 0 && clipFactor < 1 { parallel.scaleGradients(optimizer.buffer, by: Float(clipFactor)) }
        let learningRate = Double(config.optimizer.lr) * schedule.factor(step: state.step)
        optimizer.learningRate = Float(learningRate)
        parallel.update(optimizer)
        state.step += 1
        return StepRecord(
            step: state.step, epoch: state.epoch, loss: loss, learningRate: learningRate, gradientNorm: norm,
            tokensPerSecond: tokens / max(Date().timeIntervalSince(started), 1e-9))
    }

    private func nonFinite(_ what: String) -> TrainingError {
        let last = output.appendingPathComponent("last.h5")
        let kept = FileManager.default.fileExists(atPath: last.path) ? "the last good checkpoint is \(last.path)" : "no checkpoint was written yet"
        return TrainingError(description: "update \(state.step + 1): \(what); training stopped (\(kept)). Lower optimizer.lr or set train.clip_norm.")
    }

    /// Metrics of `examples` in evaluation mode (masked-LM: a fixed masking stream per batch), prefixed
    /// `prefix_`. Under MPI each rank evaluates every `ranks`-th batch and the statistics are summed.
    public func evaluate(_ examples: [Example], prefix: String) -> [String: Double] {
        task.module.eval()
        defer { task.module.train() }
        let order = examples.indices.sorted { examples[$0].tokens.count < examples[$1].tokens.count }
        var statistics = TaskStatistics()
        let batchStarts = Array(stride(from: 0, to: order.count, by: config.train.batchSize))
        withNoGrad {
            for (number, start) in batchStarts.enumerated() where number % parallel.ranks == parallel.rank {
                let batch = order[start..<min(order.count, start + config.train.batchSize)].map { examples[$0] }
                statistics.add(task.forward(batch, false, RandomGenerator(seed: 0x5EED &+ UInt64(number))).1)
            }
        }
        if parallel.ranks > 1 { statistics = TaskStatistics(summing: parallel.sum(statistics.values)) }
        return Dictionary(uniqueKeysWithValues: task.metrics(statistics).map { ("\(prefix)_\($0.key)", $0.value) })
    }

    /// Early stopping: `early_stopping_patience` evaluations in a row without improvement (a state
    /// saved in checkpoints, so a resumed run stops where the original did).
    var earlyStopped: Bool {
        let patience = config.train.earlyStoppingPatience
        return patience > 0 && state.evaluationsWithoutImprovement >= patience
    }

    /// Evaluates on validation, logs, saves `best.h5` on improvement (and `last.h5` when
    /// checkpoints follow evaluations).
    func evaluateAndKeepBest() throws {
        let metrics = evaluate(data.validation, prefix: "validation")
        state.evaluatedStep = state.step
        guard let value = metrics[config.train.monitor] else {
            throw TrainingError(description: "key 'train.monitor': '\(config.train.monitor)' is not reported; this task reports \(metrics.keys.sorted().joined(separator: ", "))")
        }
        let maximise = config.train.monitor.hasSuffix("accuracy")
        let improved = state.best.map { maximise ? value > $0 : value < $0 } ?? true
        if improved {
            (state.best, state.bestStep, state.evaluationsWithoutImprovement) = (value, state.step, 0)
        } else {
            state.evaluationsWithoutImprovement += 1
        }
        if writes {
            log.append(evaluation: metrics, step: state.step, epoch: state.epoch)
            ProgressReporter.note("update \(state.step): " + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ") + (improved ? " (best)" : ""))
        }
        if improved { try saveCheckpoint("best.h5") }
        if config.train.checkpointEvery == 0 { try saveCheckpoint("last.h5") }
    }

    /// Restores the best checkpoint, evaluates validation and test, writes curves, the adapter and `summary.json`.
    func finish(wallSeconds: Double) throws -> TrainingSummary {
        let best = output.appendingPathComponent("best.h5")
        world.barrier()
        if FileManager.default.fileExists(atPath: best.path) {
            try Checkpoint.load(from: best, into: task.module, slicing: tensorParallel)
        }
        var metrics = evaluate(data.validation, prefix: "validation")
        if config.train.testAtEnd && !data.test.isEmpty { metrics.merge(evaluate(data.test, prefix: "test")) { $1 } }
        let summary = TrainingSummary(
            name: config.run.name, seed: config.run.seed, steps: state.step, bestStep: state.bestStep, metrics: metrics,
            wallSeconds: wallSeconds, parameters: task.module.parameterCount, trainableParameters: optimizer.buffer.count,
            bestCheckpointSHA256: FileManager.default.fileExists(atPath: best.path) ? try SHA256.hexDigest(ofFile: best) : "",
            dataSHA256: data.fileHashes, ranks: parallel.ranks, tensorParallel: tensorParallel?.group.size ?? 1, globalBatch: globalBatch,
            checkpointGatherSeconds: checkpointSeconds.gathering, checkpointWriteSeconds: checkpointSeconds.writing)
        guard writes else { return summary }
        if config.lora.enabled {
            try PEFTAdapterFolder.save(
                model: task.module, configuration: config.lora.configuration, baseModel: config.model.path,
                to: output.appendingPathComponent("adapter"))
        }
        try CurvePlot.write(log: log, monitor: config.train.monitor, to: output.appendingPathComponent("curves.svg"))
        try summary.write(to: output.appendingPathComponent("summary.json"))
        return summary
    }
}
