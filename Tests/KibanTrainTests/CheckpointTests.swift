import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor
import KibanTrain
import KibanTestSupport
import Testing

/// HDF5 checkpoints: bit-exact round trips, exact resume, and clear errors for damaged files.
@Suite("HDF5 checkpoints")
struct CheckpointTests {
    static var tinyLlama: LlamaConfig {
        var config = LlamaConfig()
        (config.vocabularySize, config.hiddenSize, config.intermediateSize, config.layerCount) = (30, 16, 24, 2)
        (config.headCount, config.keyValueHeadCount) = (4, 2)
        return config
    }

    func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)-\(name)")
    }

    @Test func checkpointRoundTripIsBitExact() throws {
        let url = temporaryURL("model.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let model = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 1))
        let generator = RandomGenerator(seed: 99)
        _ = generator.next()
        try Checkpoint.save(to: url, model: model, generator: generator, metadata: .init(step: 7, modelConfig: "{\"a\":1}"))
        let restored = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 2))
        let restoredGenerator = RandomGenerator(seed: 0)
        let metadata = try Checkpoint.load(from: url, into: restored, generator: restoredGenerator)
        #expect(metadata.step == 7 && metadata.modelConfig == "{\"a\":1}")
        #expect(restoredGenerator.state == generator.state)
        let original = model.stateDict()
        for (name, tensor) in restored.stateDict() {
            #expect(tensor.toArray().map(\.bitPattern) == original[name]!.toArray().map(\.bitPattern), "\(name)")
        }
    }

    @Test func resumedTrainingMatchesAnUninterruptedRunBitForBit() throws {
        let url = temporaryURL("resume.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let ids = IndexTensor(shape: [2, 6], values: [1, 5, 9, 3, 22, 7, 4, 4, 18, 2, 11, 29])
        func makeRun() -> (LlamaForCausalLM, AdamW) {
            let model = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 3))
            return (model, AdamW(buffer: ParameterBuffer(module: model), learningRate: 1e-2))
        }
        func step(_ model: LlamaForCausalLM, _ optimizer: AdamW) -> Float {
            optimizer.zeroGradients()
            let logits = model(ids).sliced(axis: 1, 0..<5).reshaped([10, 30])
            let targets = IndexTensor([5, 9, 3, 22, 7, 4, 18, 2, 11, 29])
            let loss = logits.crossEntropy(targets: targets)
            loss.backward()
            optimizer.buffer.clipGradientNorm(1)
            optimizer.update()
            return loss.item()
        }
        let (model, optimizer) = makeRun()
        var uninterrupted: [Float] = []
        for index in 0..<8 {
            if index == 4 {
                try Checkpoint.save(to: url, model: model, optimizer: optimizer, metadata: .init(step: 4))
            }
            uninterrupted.append(step(model, optimizer))
        }
        let (resumedModel, resumedOptimizer) = makeRun()
        #expect(try Checkpoint.load(from: url, into: resumedModel, optimizer: resumedOptimizer).step == 4)
        let resumed = (4..<8).map { _ in step(resumedModel, resumedOptimizer) }
        #expect(resumed.map(\.bitPattern) == uninterrupted[4...].map(\.bitPattern))
    }

    @Test func strictLoadingListsEveryMismatch() throws {
        let url = temporaryURL("mismatch.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try Checkpoint.save(to: url, model: LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 1)), metadata: .init(step: 0))
        var wider = Self.tinyLlama
        wider.intermediateSize = 32
        let error = #expect(throws: HDF5Error.self) {
            try Checkpoint.load(from: url, into: LlamaForCausalLM(wider, generator: RandomGenerator(seed: 1)))
        }
        #expect(error?.description.contains("model.layers.0.mlp.up_proj.weight") == true)
        #expect(error?.description.contains(url.path) == true)
        let report = try Checkpoint.load(
            from: url, into: LlamaForCausalLM(wider, generator: RandomGenerator(seed: 1)), strict: false)
        #expect(report.step == 0)
    }

    @Test func damagedFilesFailWithTheirPath() throws {
        let url = temporaryURL("damaged.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let model = LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 1))
        try Checkpoint.save(to: url, model: model, metadata: .init(step: 0))
        let bytes = try Data(contentsOf: url)
        let fresh = { LlamaForCausalLM(Self.tinyLlama, generator: RandomGenerator(seed: 1)) }

        try bytes.prefix(bytes.count / 2).write(to: url)
        let truncated = #expect(throws: HDF5Error.self) { try Checkpoint.load(from: url, into: fresh()) }
        #expect(truncated?.description.contains(url.path) == true)

        var flipped = bytes
        let lastWeight = model.stateDict()["lm_head.weight"]!.toArray()
        let pattern = withUnsafeBytes(of: lastWeight[3].bitPattern.littleEndian) { Data($0) }
        let position = try #require(flipped.range(of: pattern)).lowerBound
        flipped[position] ^= 0x10
        try flipped.write(to: url)
        #expect(throws: HDF5Error.self) { try Checkpoint.load(from: url, into: fresh()) }

        try Data("not an hdf5 file".utf8).write(to: url)
        let notHDF5 = #expect(throws: HDF5Error.self) { try Checkpoint.load(from: url, into: fresh()) }
        #expect(notHDF5?.description.contains("not an HDF5 file") == true)
    }

    /// Writes a checkpoint for `Tests/Interop/check_interop.py` (h5py reads names, shapes, moments, attributes).
    @Test func checkpointForH5py() throws {
        let config = Self.tinyLlama
        let model = LlamaForCausalLM(config, generator: RandomGenerator(seed: 14))
        let optimizer = AdamW(buffer: ParameterBuffer(module: model), learningRate: 1e-3)
        let ids = IndexTensor(shape: [1, 5], values: [3, 8, 1, 22, 9])
        for _ in 0..<2 {
            optimizer.zeroGradients()
            model(ids).reshaped([5, 30]).crossEntropy(targets: IndexTensor([8, 1, 22, 9, 0])).backward()
            optimizer.update()
        }
        try FileManager.default.createDirectory(at: InteropFolder.url, withIntermediateDirectories: true)
        let url = InteropFolder.url.appendingPathComponent("checkpoint.h5")
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try Checkpoint.save(
            to: url, model: model, optimizer: optimizer, generator: RandomGenerator(seed: 5),
            metadata: .init(step: 2, modelConfig: configJSON, dataHashes: ["tokens.txt": "0" + String(repeating: "a", count: 63)]))
        let names = model.stateDict().map { "\($0.key) \($0.value.shape.map(String.init).joined(separator: "x"))" }.sorted()
        try names.joined(separator: "\n").write(to: InteropFolder.url.appendingPathComponent("checkpoint_names.txt"), atomically: true, encoding: .utf8)
        #expect(try Checkpoint.load(from: url, into: LlamaForCausalLM(config, generator: RandomGenerator(seed: 0))).step == 2)
    }
}

