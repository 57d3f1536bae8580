import Foundation
import Testing

@testable import KibanEval

/// The sample pages CI turns into screenshots (`.ci/test`, `Examples/render_report.sh`).
@Suite struct ReportSampleTests {
    /// Renders both sample reports and checks them; when `KIBAN_REPORT_DIR` is set, also writes
    /// `classification.html`, `regression.html` and their JSON there, for the screenshot step.
    @Test func samplePagesAreCompleteAndWrittenWhereAsked() throws {
        let samples = [("classification", SampleReports.classification), ("regression", SampleReports.regression)]
        for (name, report) in samples {
            let inspection = try ReportInspection(report)
            #expect(inspection.nonFiniteWords == [], "\(name)")
            #expect(report.models.allSatisfy { $0.metrics.allSatisfy { $0.interval != nil } }, "\(name): every metric has a value")
            #expect(report.comparisons.allSatisfy { $0.differences.allSatisfy { $0.result != nil } }, "\(name): every difference has a value")
            #expect(report.models.map(\.exampleCount) == (name == "classification" ? [493, 493] : [900, 900]))
        }
        guard let directory = ProcessInfo.processInfo.environment["KIBAN_REPORT_DIR"] else { return }
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        for (name, report) in samples {
            try Data(report.html().utf8).write(to: folder.appendingPathComponent("\(name).html"))
            try encoder.encode(report).write(to: folder.appendingPathComponent("\(name).json"))
        }
    }
}
