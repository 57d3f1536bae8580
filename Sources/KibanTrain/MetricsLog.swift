import Foundation

/// `metrics.jsonl`: one JSON object per line — `{"kind":"train","step":…,"loss":…}` per update and
/// `{"kind":"eval","step":…,"validation_loss":…}` per evaluation. Each line is flushed as written.
public final class MetricsLog {
    public let url: URL

    init(url: URL) { self.url = url }

    func append(_ record: StepRecord) {
        write(["kind": "train", "step": record.step, "epoch": record.epoch, "loss": record.loss, "lr": record.learningRate,
               "grad_norm": record.gradientNorm, "tokens_per_s": record.tokensPerSecond])
    }

    func append(evaluation metrics: [String: Double], step: Int, epoch: Int) {
        var fields: [String: Any] = ["kind": "eval", "step": step, "epoch": epoch]
        for (key, value) in metrics { fields[key] = value }
        write(fields)
    }

    /// Drops records after `step` (a resumed run rewrites them); 0 empties the log.
    func truncate(afterStep step: Int) {
        let kept = records().filter { ($0["step"] as? Int ?? 0) <= step && step > 0 }
        let text = kept.compactMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
            .map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
        try? text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// Every record, in order.
    public func records() -> [[String: Any]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    private func write(_ fields: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: url) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: data + Data("\n".utf8))
    }
}

/// Progress on standard error: a redrawn bar on a terminal (update, loss, tokens/s, ETA), plain
/// lines about every 5 % otherwise (logs, CI).
final class ProgressReporter {
    let total: Int
    /// The update this session started after (a resumed run's ETA counts only its own updates).
    let firstStep: Int
    let started = Date()
    let isTerminal = isatty(STDERR_FILENO) != 0
    private var smoothedLoss: Double?
    private var lastPrinted = 0

    init(total: Int, firstStep: Int) {
        self.total = max(total, 1)
        self.firstStep = firstStep
    }

    func update(_ record: StepRecord) {
        smoothedLoss = smoothedLoss.map { 0.9 * $0 + 0.1 * record.loss } ?? record.loss
        let elapsed = Date().timeIntervalSince(started)
        let remaining = elapsed / Double(max(record.step - firstStep, 1)) * Double(total - record.step)
        let line = String(format: "update %d/%d  loss %.4f  %.0f tokens/s  lr %.2e  ETA %@", record.step, total, smoothedLoss!,
                          record.tokensPerSecond, record.learningRate, Self.duration(remaining))
        if isTerminal {
            let filled = 24 * record.step / total
            Self.write("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled) + "] " + line + "\u{1B}[K")
        } else if record.step == firstStep + 1 || record.step - lastPrinted >= max(1, total / 20) || record.step == total {
            lastPrinted = record.step
            Self.write(line + "\n")
        }
    }

    func finish() {
        if isTerminal { Self.write("\n") }
    }

    /// A line outside the bar (evaluations, resume notices).
    static func note(_ text: String) {
        write((isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" : "") + text + "\n")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let whole = Int(seconds)
        return whole >= 3600 ? String(format: "%dh%02dm", whole / 3600, whole / 60 % 60) : String(format: "%dm%02ds", whole / 60, whole % 60)
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
