import Foundation
import KibanData
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor
import KibanTestSupport
import Testing

/// A tiny ESM-2 trained for a few hundred steps on the real bacterial proteome must predict masked
/// residues of held-out proteins better than their frequencies alone (the unigram baseline),
/// measured on the same masked positions.
@Suite("Masked-LM smoke test on the proteome")
struct MaskedLanguageModelSmokeTests {
    @Test func tinyEsmBeatsTheUnigramBaselineOnHeldOutProteins() throws {
        let records = try FASTAReader.readAll(path: TestData.path("protein/bacterial_proteome.faa"), policy: .mapToUnknown)
        let sequences = records.map { ProteinAlphabet.encode($0.sequence) }
        let heldOut = sequences.indices.filter { $0 % 10 == 0 }, training = sequences.indices.filter { $0 % 10 != 0 }
        var config = EsmConfig()
        (config.hiddenSize, config.layerCount, config.headCount, config.intermediateSize) = (128, 2, 4, 512)
        let model = EsmForMaskedLM(config, generator: RandomGenerator(seed: 0))
        let buffer = ParameterBuffer(module: model)
        let optimizer = AdamW(buffer: buffer, learningRate: 2e-3, weightDecay: 0.01)
        let schedule = LearningRateSchedule.warmupCosine(warmupSteps: 30, totalSteps: 300)
        let generator = RandomGenerator(seed: 1)
        let corrupt = { (ids: IndexTensor, generator: RandomGenerator) in
            MaskedLanguageModeling.corrupt(
                ids, maskable: { $0 >= 4 && $0 < 24 }, maskID: ProteinAlphabet.mask, randomTokens: 4..<24, generator: generator)
        }
        var batches: [[Int]] = []
        var step = 0
        while step < 300 {
            if batches.isEmpty {
                batches = Batching.lengthBucketed(training, lengths: { sequences[$0].count }, batchSize: 16, seed: UInt64(step))
            }
            let indices = batches.removeLast()
            let batch = Batching.pad(
                indices.map { sequences[$0] }, indices: indices, maximumLength: 128, padID: ProteinAlphabet.pad, policy: .randomCrop,
                generator: generator)
            let (inputs, labels) = corrupt(batch.ids, generator)
            optimizer.zeroGradients()
            let logits = model(inputs, attentionMask: batch.mask).reshaped([-1, config.vocabularySize])
            logits.crossEntropy(targets: IndexTensor(labels.values)).backward()
            buffer.clipGradientNorm(1)
            optimizer.learningRate = Float(2e-3 * schedule.factor(step: step))
            optimizer.update()
            step += 1
        }

        var counts = [Double](repeating: 1, count: config.vocabularySize)
        for index in training { for token in sequences[index] where token >= 4 && token < 24 { counts[token] += 1 } }
        let total = counts[4..<24].reduce(0, +)
        model.eval()
        var (modelLoss, unigramLoss, positions) = (0.0, 0.0, 0)
        let evaluation = RandomGenerator(seed: 2)
        for start in stride(from: 0, to: heldOut.count, by: 16) {
            let indices = Array(heldOut[start..<min(heldOut.count, start + 16)])
            let batch = Batching.pad(
                indices.map { sequences[$0] }, indices: indices, maximumLength: 128, padID: ProteinAlphabet.pad, policy: .truncate,
                generator: evaluation)
            let (inputs, labels) = corrupt(batch.ids, evaluation)
            let logProbabilities = withNoGrad { model(inputs, attentionMask: batch.mask).logSoftmax() }.toArray()
            for (position, label) in labels.values.enumerated() where label != -100 {
                modelLoss -= Double(logProbabilities[position * config.vocabularySize + label])
                unigramLoss -= Foundation.log(counts[label] / total)
                positions += 1
            }
        }
        modelLoss /= Double(positions)
        unigramLoss /= Double(positions)
        #expect(positions > 1000)
        #expect(modelLoss < unigramLoss, "held-out masked-LM loss \(modelLoss) vs unigram \(unigramLoss) on \(positions) positions")
        print("masked-LM smoke test: held-out loss \(modelLoss) vs unigram \(unigramLoss) nats on \(positions) masked positions")
    }
}
