import Foundation
import Testing

@testable import KibanTrain

/// The metrics log and the curves drawn from it.
@Suite struct MetricsOutputTests {
    @Test func movingMeanAveragesATrailingWindow() {
        let points = (0..<100).map { (Double($0), Double($0 % 2)) }
        let smoothed = CurvePlot.movingMean(points)
        #expect(smoothed.count == 100)
        #expect(smoothed[0].1 == 0 && smoothed[1].1 == 0.5)
        #expect(smoothed[99].1 == 0.5, "window of 2 over alternating 0/1")
    }

    @Test func logAndCurvesRoundTrip() throws {
        let folder = try TrainerFixture.folder("metrics")
        let log = MetricsLog(url: folder.appendingPathComponent("metrics.jsonl"))
        for step in 1...6 {
            log.append(StepRecord(step: step, epoch: 0, loss: 1 / Double(step), learningRate: 1e-3, gradientNorm: 1, tokensPerSecond: 10))
        }
        log.append(evaluation: ["validation_loss": 0.4, "validation_accuracy": 0.8], step: 6, epoch: 0)
        log.truncate(afterStep: 4)
        #expect(log.records().compactMap { $0["step"] as? Int } == [1, 2, 3, 4])
        log.append(evaluation: ["validation_loss": 0.5, "validation_accuracy": 0.7], step: 4, epoch: 0)
        let svg = folder.appendingPathComponent("curves.svg")
        try CurvePlot.write(log: log, monitor: "validation_accuracy", to: svg)
        let text = try String(contentsOf: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg") && text.components(separatedBy: "<polyline").count - 1 == 4, "train, its moving mean, validation loss, the metric")
        #expect(text.contains("validation_accuracy"))
    }
}
