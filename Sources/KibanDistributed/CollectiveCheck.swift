/// A self-check of a communicator's collectives on values whose results are known in closed form:
/// rank r's value at index i is (i mod 1000) + r/4, exact in float, so every reduction order gives
/// the same sums. `kiban collectives` runs it at every rank under `mpirun`.
public enum CollectiveCheck {
    /// Rank r's value at index i.
    static func value(rank: Int, index: Int) -> Float {
        Float(index % 1000) + Float(rank) / 4
    }

    /// Runs every collective of `communicator` (each rank must call this) and returns one line per
    /// mismatch, naming the collective and the first wrong index; empty when all hold. `length`
    /// values per all-reduce (the default spans three of ``MPICommunicator``'s chunks).
    public static func run(_ communicator: Communicator, length: Int = 2_500_001) -> [String] {
        let (rank, size) = (communicator.rank, communicator.size)
        var failures: [String] = []
        /// Records the first index where `got` differs from `expected(i)`.
        func check(_ name: String, _ got: [Float], _ expected: (Int) -> Float) {
            if let index = got.indices.first(where: { got[$0] != expected($0) }) {
                failures.append("\(name): index \(index) holds \(got[index]), expected \(expected(index))")
            }
        }
        let rankSum = Float(size * (size - 1)) / 8

        var values = (0..<length).map { value(rank: rank, index: $0) }
        values.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
        check("all-reduce sum", values) { Float(size) * Float($0 % 1000) + rankSum }

        values = (0..<length).map { value(rank: rank, index: $0) }
        values.withUnsafeMutableBufferPointer { communicator.allReduce($0, .max) }
        check("all-reduce max", values) { value(rank: size - 1, index: $0) }

        var counts = [Double(rank + 1)]
        counts.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
        if counts[0] != Double(size * (size + 1) / 2) { failures.append("all-reduce of doubles: \(counts[0])") }

        var broadcast = (0..<1000).map { value(rank: rank, index: $0) }
        broadcast.withUnsafeMutableBufferPointer { communicator.broadcast($0, root: size - 1) }
        check("broadcast from rank \(size - 1)", broadcast) { value(rank: size - 1, index: $0) }

        let block = 777
        let scattered = (0..<(size * block)).map { value(rank: rank, index: $0) }
        var mine = [Float](repeating: .nan, count: block)
        scattered.withUnsafeBufferPointer { input in mine.withUnsafeMutableBufferPointer { communicator.reduceScatterSum(input, into: $0) } }
        check("reduce-scatter", mine) { Float(size) * Float((rank * block + $0) % 1000) + rankSum }

        let own = (0..<block).map { value(rank: rank, index: $0) }
        var gathered = [Float](repeating: .nan, count: size * block)
        own.withUnsafeBufferPointer { input in gathered.withUnsafeMutableBufferPointer { communicator.allGather(input, into: $0) } }
        check("all-gather", gathered) { value(rank: $0 / block, index: $0 % block) }

        // Rank r sends r·100 + 3 bytes (r + i) mod 256: messages of different lengths.
        let messages = communicator.allGather(bytes: (0..<(rank * 100 + 3)).map { UInt8((rank + $0) % 256) })
        let expected = (0..<size).map { r in (0..<(r * 100 + 3)).map { UInt8((r + $0) % 256) } }
        if messages != expected { failures.append("all-gather of bytes: lengths \(messages.map(\.count)), expected \(expected.map(\.count))") }

        // Even and odd ranks, each ordered from the highest rank down.
        let parity = communicator.split(color: rank % 2, key: -rank)
        let members = stride(from: size - 1 - (size - 1 - rank) % 2, through: 0, by: -2).map { $0 }
        if parity.size != members.count || parity.rank != members.firstIndex(of: rank) {
            failures.append("split: rank \(parity.rank) of \(parity.size), expected \(members.firstIndex(of: rank) ?? -1) of \(members.count)")
        }
        var memberSum = [Float(rank)]
        memberSum.withUnsafeMutableBufferPointer { parity.allReduce($0, .sum) }
        if memberSum[0] != Float(members.reduce(0, +)) { failures.append("all-reduce within a split: \(memberSum[0])") }

        communicator.barrier()
        return failures
    }
}
