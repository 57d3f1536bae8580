import Foundation

/// Progress of an inference run on stderr: a bar with sequences/s on a terminal, otherwise a line
/// per 5 % of the input.
final class InferenceProgress {
    let total: Int
    let started = Date()
    let isTerminal = isatty(STDERR_FILENO) != 0
    let enabled: Bool
    private var lastPrintedTwentieth = -1

    init(total: Int, enabled: Bool) {
        self.total = max(total, 1)
        self.enabled = enabled
    }

    func update(done: Int, tokens: Int) {
        guard enabled else { return }
        let elapsed = max(Date().timeIntervalSince(started), 1e-9)
        let line = String(format: "%d/%d sequences  %.1f sequences/s  %.0f tokens/s", done, total, Double(done) / elapsed, Double(tokens) / elapsed)
        if isTerminal {
            let filled = min(24, 24 * done / total)
            write("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled) + "] " + line + "\u{1B}[K")
        } else {
            let twentieth = 20 * done / total
            guard twentieth > lastPrintedTwentieth else { return }
            lastPrintedTwentieth = twentieth
            write(line + "\n")
        }
    }

    func finish() {
        if enabled && isTerminal { write("\n") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
