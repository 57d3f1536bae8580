import Foundation
import Testing

@testable import KibanTrain

/// Problems with a run's data are reported before training starts, naming the file and place.
@Suite("Bad run input")
struct BadRunInputTests {
    func failure(_ config: RunConfiguration) -> String? {
        do {
            _ = try Trainer(config: config)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func missingDataFile() throws {
        let folder = try TrainerFixture.folder("bad-missing")
        try TrainerFixture.writeInputs(in: folder)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = folder.appendingPathComponent("nowhere.csv").path
        let message = try #require(failure(config))
        #expect(message.contains("nowhere.csv") && message.contains("does not exist"))
    }

    @Test func textInTheLabelColumn() throws {
        let folder = try TrainerFixture.folder("bad-label")
        try TrainerFixture.writeInputs(in: folder)
        let csv = folder.appendingPathComponent("text-labels.csv")
        try "sequence,label,split\nGLFDIVKKVV,1,train\nMKTAYIAKQR,antimicrobial,train\nGLFDIVKKVA,0,val\n"
            .write(to: csv, atomically: true, encoding: .utf8)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = csv.path
        let message = try #require(failure(config))
        #expect(message.contains("text-labels.csv:3: column 'label'") && message.contains("antimicrobial"), "\(message)")
    }

    @Test func emptySplit() throws {
        let folder = try TrainerFixture.folder("bad-split")
        try TrainerFixture.writeInputs(in: folder)
        let csv = folder.appendingPathComponent("no-validation.csv")
        try "sequence,label,split\nGLFDIVKKVV,1,train\nMKTAYIAKQR,0,train\nGLFDIVKKVA,0,test\n".write(to: csv, atomically: true, encoding: .utf8)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = csv.path
        let message = try #require(failure(config))
        #expect(message.contains("validation split is empty"))
    }

    @Test func labelOutsideTheClasses() throws {
        let folder = try TrainerFixture.folder("bad-class")
        try TrainerFixture.writeInputs(in: folder)
        let csv = folder.appendingPathComponent("three.csv")
        try "sequence,label,split\nGLFDIVKKVV,2,train\nGLFDIVKKVA,0,val\n".write(to: csv, atomically: true, encoding: .utf8)
        var config = TrainerFixture.classification(in: folder, output: "run")
        config.data.train = csv.path
        let message = try #require(failure(config))
        #expect(message.contains("three.csv:2: column 'label'") && message.contains("num_labels"), "\(message)")
    }
}
