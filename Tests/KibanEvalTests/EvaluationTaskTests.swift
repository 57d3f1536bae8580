import Foundation
import Testing

@testable import KibanEval

/// Acceptance 7 for `kiban eval`: a task file with an unknown metric or a missing column, and a
/// predictions file whose ids disagree with the task's, each fail naming the file and place.
@Suite struct EvaluationTaskTests {
    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-eval-task-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func unknownMetricsKeysAndMisfitMetricsAreNamed() throws {
        let dir = try folder()
        let unknown = try write("name: t\ndata: x.csv\nmetrics: [accuracy, acuracy]\n", "unknown.yaml", in: dir)
        #expect(throws: (any Error).self) { try EvaluationTask.load(path: unknown) }
        do { _ = try EvaluationTask.load(path: unknown) } catch {
            #expect("\(error)".contains("unknown.yaml") && "\(error)".contains("acuracy") && "\(error)".contains("metrics"))
        }
        let misfit = try write("name: t\nkind: regression\ndata: x.csv\nmetrics: [auroc]\n", "misfit.yaml", in: dir)
        do { _ = try EvaluationTask.load(path: misfit); Issue.record("no error") } catch {
            #expect("\(error)".contains("does not apply to a regression task"))
        }
        let key = try write("name: t\ndata: x.csv\nmetric: [accuracy]\n", "key.yaml", in: dir)
        do { _ = try EvaluationTask.load(path: key); Issue.record("no error") } catch { #expect("\(error)".contains("metric")) }
        let fold = try write("name: t\nprotocol: kfold\ndata: x.csv\n", "fold.yaml", in: dir)
        do { _ = try EvaluationTask.load(path: fold); Issue.record("no error") } catch { #expect("\(error)".contains("{fold}")) }
    }

    @Test func aMissingColumnNamesTheFileAndColumn() throws {
        let dir = try folder()
        let data = try write("sequence,class,split\nMKV,1,test\n", "data.csv", in: dir)
        var task = EvaluationTask()
        task.data = data
        do { _ = try TaskExamples.read(task, file: data, fold: nil); Issue.record("no error") } catch {
            #expect("\(error)".contains("data.csv") && "\(error)".contains("'label'"))
        }
    }

    @Test func comparisonIDsMustBeTheTasksExactly() throws {
        let dir = try folder()
        var task = EvaluationTask()
        task.name = "t"
        let examples = (1...3).map { EvaluatedExample(id: "row\($0)", fold: 0, truth: 1, prediction: 1, score: 0.9) }
        let good = try write("id,prediction,score\nrow3,0,0.2\nrow1,1,0.8\nrow2,1,0.7\n", "good.csv", in: dir)
        let read = try TaskExamples.readComparison(good, like: examples, task: task, classNames: ["0", "1"])
        #expect(read.map(\.id) == ["row1", "row2", "row3"] && read.map(\.prediction) == [1, 1, 0])
        let stranger = try write("id,prediction\nrow1,1\nrow9,0\nrow2,1\nrow3,1\n", "stranger.csv", in: dir)
        do { _ = try TaskExamples.readComparison(stranger, like: examples, task: task, classNames: ["0", "1"]); Issue.record("no error") } catch {
            #expect("\(error)".contains("stranger.csv:3") && "\(error)".contains("'row9'"))
        }
        let missing = try write("id,prediction\nrow1,1\n", "missing.csv", in: dir)
        do { _ = try TaskExamples.readComparison(missing, like: examples, task: task, classNames: ["0", "1"]); Issue.record("no error") } catch {
            #expect("\(error)".contains("no prediction for 2 of the task's 3"))
        }
        let twice = try write("id,prediction\nrow1,1\nrow1,1\n", "twice.csv", in: dir)
        do { _ = try TaskExamples.readComparison(twice, like: examples, task: task, classNames: ["0", "1"]); Issue.record("no error") } catch {
            #expect("\(error)".contains("twice.csv:3") && "\(error)".contains("twice"))
        }
    }

    @Test func kFoldIntervalsAverageTheFoldMetrics() throws {
        var task = EvaluationTask()
        task.kind = .regression
        let examples = (0..<40).map { (index: Int) -> EvaluatedExample in
            let error: Double = index % 2 == 0 ? 1 : 3
            return EvaluatedExample(id: "e\(index)", fold: index % 2, truth: Double(index), prediction: Double(index) + error, score: 0)
        }
        let results = try MetricSummary.results([examples], task: task, metrics: [.mae], folds: 2)
        #expect(results[0].folds == [1, 3] && results[0].estimate == 2)
    }

    @Test func repeatedSeedsAverageTheSeedMetrics() throws {
        var task = EvaluationTask()
        task.kind = .regression
        let seedRun = { (error: Double) in
            (0..<30).map { EvaluatedExample(id: "e\($0)", fold: 0, truth: Double($0), prediction: Double($0) + error, score: 0) }
        }
        let results = try MetricSummary.results([seedRun(1), seedRun(2), seedRun(6)], task: task, metrics: [.mae], folds: 1)
        #expect(results[0].seeds == [1, 2, 6] && results[0].estimate == 3)
        #expect(results[0].lower == 3 && results[0].upper == 3)
    }
}
