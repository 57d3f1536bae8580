import Foundation
import KibanData
import KibanFormats
import KibanTensor
import KibanTestSupport
import Testing

/// Packing real data into HDF5 corpora, reading batches back, and the masking and batching rules.
@Suite("Packed corpora and batching")
struct CorpusTests {

    func temporary(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)-\(name)")
    }

    @Test func proteomeRoundTripsThroughAPackedCorpus() throws {
        let input = try TestData.path("protein/bacterial_proteome.faa")
        let output = temporary("proteome.h5")
        defer { try? FileManager.default.removeItem(at: output) }
        let summary = try CorpusPacker.packFASTA(input: input, output: output)
        #expect(summary.sequences == 2100)
        let records = try FASTAReader.readAll(path: input, policy: .mapToUnknown)
        #expect(summary.tokens == records.map { $0.sequence.count + 2 }.reduce(0, +))
        let corpus = try PackedCorpus(path: output.path)
        #expect(corpus.kind == "protein" && corpus.count == 2100)
        for index in [0, 1, 1049, 2099] {
            #expect(try corpus.tokens(of: index) == ProteinAlphabet.encode(records[index].sequence))
        }
    }

    @Test func labelledCSVsKeepLabelsSplitsAndTargets() throws {
        let amp = temporary("amp.h5"), gap = temporary("gap.h5")
        defer { for url in [amp, gap] { try? FileManager.default.removeItem(at: url) } }
        _ = try CorpusPacker.packProteinCSV(input: try TestData.path("protein/amp_vs_uniprot.csv"), output: amp)
        let peptides = try PackedCorpus(path: amp.path)
        #expect(peptides.count == 4642 && peptides.labels?.count == 4642)
        #expect(peptides.indices(in: .test).count + peptides.indices(in: .validation).count + peptides.indices(in: .train).count == 4642)
        _ = try CorpusPacker.packCompositionCSV(input: try TestData.path("materials/expt_gap.csv"), output: gap)
        let materials = try PackedCorpus(path: gap.path)
        #expect(materials.kind == "composition" && materials.count == 4604 && materials.targets?.count == 4604)
        let fractions = try materials.fractions(of: 0)
        #expect(abs(fractions.reduce(0, +) - 1) < 1e-5 && fractions.count == materials.length(of: 0))
    }

    @Test func packingTenTimesTheProteomeUsesBoundedMemory() throws {
        let proteome = try Data(contentsOf: try TestData.url("protein/bacterial_proteome.faa"))
        let single = temporary("single.faa"), tenfold = temporary("tenfold.faa")
        defer { for url in [single, tenfold] { try? FileManager.default.removeItem(at: url) } }
        try proteome.write(to: single)
        try Data((0..<10).flatMap { _ in proteome }).write(to: tenfold)
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kiban")
        func peak(_ input: URL) throws -> (megabytes: Double, tokens: Int) {
            let output = temporary("packed.h5")
            defer { try? FileManager.default.removeItem(at: output) }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["data", "pack", "--input", input.path, "--output", output.path, "--json"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let report = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let summary = report?["summary"] as? [String: Any]
            return ((report?["peakResidentMegabytes"] as? Double) ?? .infinity, (summary?["tokens"] as? Int) ?? 0)
        }
        let (one, ten) = (try peak(single), try peak(tenfold))
        #expect(ten.tokens == 10 * one.tokens)
        #expect(ten.megabytes - one.megabytes < 50, "peak RSS \(one.megabytes) MB for 1×, \(ten.megabytes) MB for 10×")
    }

    @Test func maskingFollowsTheEightyTenTenRule() {
        let ids = IndexTensor(shape: [200, 50], values: (0..<10_000).map { $0 % 50 == 0 ? 0 : 4 + $0 % 20 })
        let generator = RandomGenerator(seed: 3)
        let (inputs, labels) = MaskedLanguageModeling.corrupt(
            ids, maskable: { $0 >= 4 }, maskID: 32, randomTokens: 4..<24, generator: generator)
        let selected = labels.values.indices.filter { labels.values[$0] != -100 }
        let fraction = Double(selected.count) / Double(ids.count)
        #expect(abs(fraction - 0.15 * 0.98) < 0.015)
        let masked = selected.filter { inputs.values[$0] == 32 }.count
        let kept = selected.filter { inputs.values[$0] == ids.values[$0] }.count
        #expect(abs(Double(masked) / Double(selected.count) - 0.8) < 0.04)
        #expect(kept > selected.count / 20)
        #expect(selected.allSatisfy { ids.values[$0] >= 4 })
        let again = MaskedLanguageModeling.corrupt(ids, maskable: { $0 >= 4 }, maskID: 32, randomTokens: 4..<24, generator: RandomGenerator(seed: 3))
        #expect(again.inputs == inputs && again.labels == labels)
    }

    @Test func batchesAreDeterministicBucketedAndPadded() {
        let lengths = (0..<100).map { 5 + ($0 * 37) % 90 }
        let batches = Batching.lengthBucketed(Array(0..<100), lengths: { lengths[$0] }, batchSize: 8, seed: 1, bucketBatches: 4)
        #expect(batches == Batching.lengthBucketed(Array(0..<100), lengths: { lengths[$0] }, batchSize: 8, seed: 1, bucketBatches: 4))
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<100))
        let spread = batches.map { batch in batch.map { lengths[$0] }.max()! - batch.map { lengths[$0] }.min()! }
        #expect(spread.reduce(0, +) / spread.count < 30)
        let batch = Batching.pad(
            [[1, 2, 3], Array(10..<30)], indices: [0, 1], maximumLength: 8, padID: 0, policy: .randomCrop, generator: RandomGenerator(seed: 2))
        #expect(batch.ids.shape == [2, 8] && batch.mask.toArray().prefix(8) == [1, 1, 1, 0, 0, 0, 0, 0])
        let crop = Array(batch.ids.values[8..<16])
        #expect(crop == Array(crop[0]..<(crop[0] + 8)))
        let truncated = Batching.pad([Array(10..<30)], indices: [1], maximumLength: 8, padID: 0, policy: .truncate, generator: RandomGenerator(seed: 2))
        #expect(truncated.ids.values == Array(10..<18))
    }

    @Test func notAnHDF5FileIsAClearError() throws {
        let url = temporary("fake.h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("sequence,label\nAAA,1\n".utf8).write(to: url)
        let error = #expect(throws: HDF5Error.self) { try PackedCorpus(path: url.path) }
        #expect(error?.description.contains(url.path) == true)
    }
}
