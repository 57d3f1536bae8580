import Foundation

/// Wall-clock timing helpers for the benchmarks.
enum Timing {
    /// Seconds taken by one call of `body`.
    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Runs each body `warmup` times, then `repeats` rounds that time the bodies in turn
    /// (interleaved, so machine noise hits all of them alike); returns the median seconds of each.
    static func interleavedMedians(warmup: Int, repeats: Int, _ bodies: [() -> Void]) -> [Double] {
        for _ in 0..<warmup { for body in bodies { body() } }
        var samples = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<max(1, repeats) {
            for (index, body) in bodies.enumerated() { samples[index].append(seconds(body)) }
        }
        return samples.map(median)
    }

    /// Wall and CPU time of a repeated step: `warmup` untimed calls, then `repeats` timed ones.
    struct StepTimes {
        /// Median wall-clock seconds of one call.
        let wallSeconds: Double
        /// User and system CPU seconds per call, all threads of the process, averaged over the timed calls.
        let userSeconds: Double, systemSeconds: Double
    }

    static func steps(warmup: Int, repeats: Int, _ body: () -> Void) -> StepTimes {
        for _ in 0..<warmup { body() }
        let repeats = max(1, repeats)
        let before = cpuSeconds()
        let samples = (0..<repeats).map { _ in seconds(body) }
        let after = cpuSeconds()
        return StepTimes(
            wallSeconds: median(samples), userSeconds: (after.user - before.user) / Double(repeats),
            systemSeconds: (after.system - before.system) / Double(repeats))
    }

    /// User and system CPU seconds this process has used so far.
    private static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// Peak resident memory of this process.
enum PeakMemory {
    /// `VmHWM` from /proc in MB (getrusage's `ru_maxrss` would include a parent's peak from
    /// before `exec`, e.g. a Python driver's).
    static func residentMegabytes() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        let kilobytes = line?.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        if let kilobytes { return kilobytes / 1024 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// `VmRSS`, the resident memory now, in MB (0 where /proc is missing).
    static func currentMegabytes() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return (line?.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
    }
}
