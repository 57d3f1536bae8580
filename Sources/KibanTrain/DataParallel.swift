import KibanDistributed
import KibanKernels
import KibanNN
import KibanOptim
import KibanTensor

/// Data-parallel training over the ranks of a communicator, with optional ZeRO sharding.
///
/// An update consumes `ranks × accumulation` micro-batches of the epoch's fixed batch order; rank
/// r takes micro-batches `r·accumulation ..< (r+1)·accumulation` of them, so each rank reads a
/// disjoint, deterministic shard of the data. Each micro-batch's gradient is summed in micro-batch
/// order on its rank, then across ranks: at 2 ranks with one micro-batch each this is the same
/// floating-point sum as 1 rank accumulating 2 micro-batches, bit for bit.
///
/// ZeRO stages shard by offset ranges of the flat buffers (padded to `ranks × block`):
/// - 0: gradients all-reduced, every rank updates everything (plain data parallel);
/// - 1: gradients all-reduced, each rank keeps optimizer moments for and updates only its shard,
///   then parameters are all-gathered;
/// - 2: as 1, but gradients are reduce-scattered, so each rank only ever holds its shard summed.
///
/// The gradient norm is a sum of per-block partial sums (blocks of ``block`` values) taken in block
/// order, the same at any rank count and stage, so clipping does not change with the layout.
final class DataParallel {
    /// Values per norm block; shards are whole blocks.
    static let block = 4096

    let communicator: Communicator
    let stage: Int
    /// Values per rank's shard (a whole number of blocks).
    let shardLength: Int
    /// Stage 2: this rank's reduce-scattered gradient shard.
    private let shardGradients: Storage?

    var rank: Int { communicator.rank }
    var ranks: Int { communicator.size }
    /// The offsets of the flat buffer this rank's optimizer owns.
    var shard: Range<Int> { (rank * shardLength)..<((rank + 1) * shardLength) }
    /// Padding multiple for the ``ParameterBuffer``.
    var padding: Int { ranks * Self.block }

    init(communicator: Communicator, stage: Int, parameterCount: Int) {
        self.communicator = communicator
        self.stage = stage
        let blocks = (parameterCount + Self.block - 1) / Self.block
        shardLength = (blocks + communicator.size - 1) / communicator.size * Self.block
        shardGradients = stage == 2 ? Storage(count: shardLength, repeating: 0) : nil
    }

    /// The positions in an update's `group` of micro-batches that are this rank's.
    func localMicroBatches(groupSize: Int, accumulation: Int) -> Range<Int> {
        min(groupSize, rank * accumulation)..<min(groupSize, (rank + 1) * accumulation)
    }

    /// Element-wise sums of `values` over the ranks (losses, token counts, metric statistics).
    func sum(_ values: [Double]) -> [Double] {
        var result = values
        result.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
        return result
    }

    /// Makes every rank start from rank 0's parameters.
    func broadcastParameters(_ buffer: ParameterBuffer) {
        communicator.broadcast(UnsafeMutableBufferPointer(start: buffer.values.pointer, count: buffer.values.count), root: 0)
    }

    /// Sums the ranks' gradients: all of them (stages 0, 1) or this rank's shard (stage 2).
    func reduceGradients(_ buffer: ParameterBuffer) {
        let all = UnsafeMutableBufferPointer(start: buffer.gradients.pointer, count: buffer.gradients.count)
        if let shardGradients {
            communicator.reduceScatterSum(
                UnsafeBufferPointer(all), into: UnsafeMutableBufferPointer(start: shardGradients.pointer, count: shardLength))
        } else {
            communicator.allReduce(all, .sum)
        }
    }

    /// The summed gradients of this rank's shard.
    private func ownedGradients(_ buffer: ParameterBuffer) -> UnsafeMutablePointer<Float> {
        shardGradients?.pointer ?? buffer.gradients.pointer + shard.lowerBound
    }

    /// The global L2 norm of the summed gradients, from per-block sums of squares in block order.
    func gradientNorm(_ buffer: ParameterBuffer) -> Double {
        let blocks = buffer.gradients.count / Self.block
        var partials = [Double](repeating: 0, count: blocks)
        let owned = ranks > 1 ? shard : 0..<buffer.gradients.count
        let gradients = ranks > 1 ? UnsafePointer(ownedGradients(buffer)) : UnsafePointer(buffer.gradients.pointer)
        for block in (owned.lowerBound / Self.block)..<(owned.upperBound / Self.block) {
            partials[block] = kb_sum_squares(gradients + (block * Self.block - owned.lowerBound), Self.block)
        }
        if ranks > 1 { partials = sum(partials) }
        return partials.reduce(0, +).squareRoot()
    }

    /// Scales the summed gradients (all of them, or this rank's shard) by `factor`.
    func scaleGradients(_ buffer: ParameterBuffer, by factor: Float) {
        let (start, count) = stage == 0 ? (buffer.gradients.pointer, buffer.gradients.count) : (ownedGradients(buffer), shardLength)
        for i in 0..<count { start[i] *= factor }
    }

    /// One optimizer update: everything (stage 0), or this rank's shard followed by an all-gather
    /// of the parameters (stages 1, 2).
    func update(_ optimizer: AdamW) {
        guard stage > 0 else { return optimizer.update() }
        optimizer.update(gradients: UnsafePointer(ownedGradients(optimizer.buffer)))
        let values = optimizer.buffer.values
        let mine = Array(UnsafeBufferPointer(start: values.pointer + shard.lowerBound, count: shardLength))
        mine.withUnsafeBufferPointer {
            communicator.allGather($0, into: UnsafeMutableBufferPointer(start: values.pointer, count: values.count))
        }
    }

    /// The optimizer's state over the whole buffer (gathered from every rank's shard at stages 1, 2).
    func gatheredState(_ optimizer: AdamW) -> AdamW.State {
        guard stage > 0 else { return optimizer.state }
        let local = optimizer.shardState
        let gather = { (moments: [Float]) -> [Float] in
            var all = [Float](repeating: 0, count: self.ranks * self.shardLength)
            moments.withUnsafeBufferPointer { input in
                all.withUnsafeMutableBufferPointer { self.communicator.allGather(input, into: $0) }
            }
            return Array(all.prefix(optimizer.buffer.count))
        }
        return AdamW.State(step: local.step, firstMoment: gather(local.firstMoment), secondMoment: gather(local.secondMoment))
    }
}
