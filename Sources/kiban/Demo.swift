import ArgumentParser
import Foundation
import KibanNN
import KibanOptim
import KibanTensor

/// `kiban demo`: the foundation's end-to-end job — an antimicrobial-peptide classifier trained with
/// Kiban's autograd and AdamW on real data (modlamp's AMP-vs-UniProt set), reporting test accuracy.
///
/// Features are amino-acid and dipeptide composition (20 + 400); the model is a two-layer GELU MLP.
/// Later issues replace this with a protein transformer fine-tune.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a peptide classifier (AMP vs UniProt) on a CSV of sequence,label[,split].")

    @Option(help: "CSV with a header naming 'sequence' and 'label' (and optionally 'split').")
    var data: String

    @Option(help: "Training epochs.")
    var epochs = 30

    @Option(help: "Mini-batch size.")
    var batchSize = 64

    @Option(help: "Hidden width of the MLP.")
    var hidden = 128

    @Option(help: "AdamW learning rate.")
    var learningRate: Float = 3e-3

    @Option(help: "Random seed (initialisation, shuffling and dropout).")
    var seed: UInt64 = 0

    func validate() throws {
        guard epochs > 0, batchSize > 0, hidden > 0, learningRate > 0 else {
            throw ValidationError("--epochs, --batch-size, --hidden and --learning-rate must be positive")
        }
    }

    func run() throws {
        let examples = try PeptideTable.read(path: data)
        let train = examples.filter { $0.split == .train }, test = examples.filter { $0.split == .test }
        print("\(data): \(examples.count) peptides, \(train.count) train, \(test.count) test")
        let generator = RandomGenerator(seed: seed)
        let model = PeptideClassifier(inputs: PeptideFeatures.width, hidden: hidden, generator: generator)
        let optimizer = AdamW(buffer: ParameterBuffer(module: model), learningRate: learningRate, weightDecay: 0.01)
        let (testFeatures, testLabels) = PeptideFeatures.batch(test)
        var order = Array(train.indices)
        for epoch in 1...epochs {
            var shuffler = generator
            order.shuffle(using: &shuffler)
            var totalLoss = 0.0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batch = order[start..<min(start + batchSize, order.count)].map { train[$0] }
                let (features, labels) = PeptideFeatures.batch(batch)
                model.train()
                let loss = model(features).crossEntropy(targets: labels)
                optimizer.zeroGradients()
                loss.backward()
                optimizer.update()
                totalLoss += Double(loss.item()) * Double(batch.count)
            }
            if epoch == 1 || epoch % 5 == 0 || epoch == epochs {
                model.eval()
                let accuracy = withNoGrad { Self.accuracy(model(testFeatures), testLabels) }
                print(String(format: "epoch %3d  train loss %.4f  test accuracy %.3f", epoch, totalLoss / Double(train.count), accuracy))
            }
        }
    }

    static func accuracy(_ logits: Tensor, _ labels: IndexTensor) -> Double {
        let values = logits.toArray()
        let correct = labels.values.enumerated().filter { row, label in
            (values[2 * row + 1] > values[2 * row] ? 1 : 0) == label
        }.count
        return Double(correct) / Double(max(labels.count, 1))
    }
}

/// Two linear layers with GELU and dropout between them: (N, 420) → (N, 2) logits.
final class PeptideClassifier: Module {
    let hidden: Linear, output: Linear, dropout: Dropout

    init(inputs: Int, hidden width: Int, generator: RandomGenerator) {
        hidden = Linear(inputs, width, initialization: .uniformFanIn, generator: generator)
        output = Linear(width, 2, initialization: .uniformFanIn, generator: generator)
        dropout = Dropout(0.1, generator: generator)
    }

    override var children: [(key: String, module: Module)] { [("hidden", hidden), ("dropout", dropout), ("output", output)] }

    func callAsFunction(_ features: Tensor) -> Tensor {
        output(dropout(hidden(features).gelu()))
    }
}
