import Foundation
import KibanIO
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor
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

    @Test func datasetsAttributesAndHyperslabsRoundTrip() throws {
        let url = temporaryURL("plain.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let floats: [Float] = (0..<24).map { Float($0) * 0.37 - 3 }
        let ints: [Int64] = [5, -1, 1 << 40, 0, 7, 9]
        do {
            let file = try HDF5File(path: url.path, mode: .create)
            try file.write(floats, shape: [4, 6], at: "/a/b/floats", chunk: [2, 6], compression: 4)
            try file.write(ints, shape: [3, 2], at: "/ints")
            try file.setAttribute("note", "résumé ✓")
            try file.setAttribute("step", 42, on: "/a")
            try file.setAttribute("rate", 0.125, on: "/a/b/floats")
        }
        let file = try HDF5File(path: url.path, mode: .read)
        #expect(try file.readFloats("/a/b/floats").values.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(try file.shape(of: "/a/b/floats") == [4, 6])
        #expect(try file.readFloats("/a/b/floats", rows: 1..<3) == Array(floats[6..<18]))
        #expect(try file.readInts("/ints").values == ints)
        #expect(try file.readInts("/ints", rows: 2..<3) == [7, 9])
        #expect(try file.stringAttribute("note") == "résumé ✓")
        #expect(try file.intAttribute("step", on: "/a") == 42)
        #expect(try file.doubleAttribute("rate", on: "/a/b/floats") == 0.125)
        #expect(try file.datasetNames(in: "/a/b") == ["floats"])
        #expect(throws: HDF5Error.self) { try file.readFloats("/missing") }
        #expect(throws: HDF5Error.self) { try file.readInts("/ints", rows: 2..<4) }
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

    @Test func sha256MatchesKnownDigests() throws {
        var empty = SHA256()
        #expect(empty.hexDigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(abc.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var long = SHA256()
        long.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(long.hexDigest() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
