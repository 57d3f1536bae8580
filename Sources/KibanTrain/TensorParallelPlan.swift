import KibanFormats
import KibanKernels
import KibanModels
import KibanNN
import KibanOptim
import KibanTensor

/// A run's tensor-parallel side: the group that shares each copy of the model, which parameters
/// are split, and the mapping between this rank's slices and the whole tensors that checkpoints
/// store (so a checkpoint loads at any rank count and layout).
struct TensorParallelPlan: CheckpointSlicing {
    let group: TensorParallelGroup
    /// Splits by parameter name in the task network's tree.
    let layout: TensorParallelLayout

    /// Splits the ESM-2 model inside `task` over `group`.
    static func shard(_ task: TaskModel, over group: TensorParallelGroup) throws -> TensorParallelPlan {
        for (path, module) in task.module.namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            if let model = module as? EsmForMaskedLM { return TensorParallelPlan(group: group, layout: model.shard(over: group).prefixed(prefix)) }
            if let model = module as? EsmModel { return TensorParallelPlan(group: group, layout: model.shard(over: group).prefixed(prefix)) }
        }
        throw TrainingError(description: "key 'train.tensor_parallel': only ESM-2 models (model.family esm) split over ranks so far")
    }

    // MARK: Whole tensors from slices (collectives: every rank of the group calls them)

    /// Every model tensor whole, by dotted name: the flat parameter buffers of all ranks in one
    /// all-gather, then each split tensor put together from its slices.
    func wholeTensors(_ module: Module, buffer: ParameterBuffer) -> [String: Tensor] {
        let gathered = gatherBuffer(UnsafeBufferPointer(start: buffer.values.pointer, count: buffer.count), buffer: buffer)
        let slot = Dictionary(uniqueKeysWithValues: buffer.parameters.enumerated().map { (ObjectIdentifier($0.element.parameter), $0.offset) })
        return module.namedParameters().reduce(into: [:]) { result, entry in
            result[entry.name] = slot[ObjectIdentifier(entry.parameter)].map { gathered[$0] } ?? entry.parameter.value
        }
    }

    /// Optimizer moments of whole tensors, in `buffer`'s order (the order of an unsplit model's buffer).
    func wholeState(_ state: AdamW.State, buffer: ParameterBuffer) -> AdamW.State {
        let whole = { (moments: [Float]) -> [Float] in
            moments.withUnsafeBufferPointer { self.gatherBuffer($0, buffer: buffer).flatMap { $0.toArray() } }
        }
        return AdamW.State(step: state.step, firstMoment: whole(state.firstMoment), secondMoment: whole(state.secondMoment))
    }

    /// `local`, laid out as `buffer` (this rank's slices), from every rank in one all-gather → each
    /// of the buffer's parameters whole.
    private func gatherBuffer(_ local: UnsafeBufferPointer<Float>, buffer: ParameterBuffer) -> [Tensor] {
        let shapes = (0..<group.size).map { rank in buffer.parameters.map { shape(of: $0, rank: rank) } }
        let counts = shapes.map { $0.map { $0.reduce(1, *) } }
        let longest = counts.map { $0.reduce(0, +) }.max()!
        var padded = [Float](repeating: 0, count: longest)
        padded.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: local.baseAddress!, count: buffer.count) }
        var all = [Float](repeating: 0, count: longest * group.size)
        padded.withUnsafeBufferPointer { input in
            all.withUnsafeMutableBufferPointer { group.communicator.allGather(input, into: $0) }
        }
        return buffer.parameters.indices.map { index in
            let name = buffer.parameters[index].name
            let parts = (0..<group.size).map { rank -> Tensor in
                let start = rank * longest + counts[rank][..<index].reduce(0, +)
                return Tensor(shape: shapes[rank][index], values: Array(all[start..<(start + counts[rank][index])]))
            }
            return layout.splits[name].map { Tensor.concatenate(parts, axis: $0.axis) } ?? parts[group.rank]
        }
    }

    /// The shape of `entry`'s slice on `rank`.
    private func shape(of entry: (name: String, parameter: Parameter), rank: Int) -> [Int] {
        var shape = entry.parameter.shape
        if let split = layout.splits[entry.name] { shape[split.axis] = group.part(of: split.length, rank: rank).count }
        return shape
    }

    // MARK: Slices from whole tensors

    func local(_ tensors: [String: Tensor], file: String) throws -> [String: Tensor] {
        try tensors.reduce(into: [:]) { result, entry in
            guard let split = layout.splits[entry.key] else { return result[entry.key] = entry.value }
            guard entry.value.rank > split.axis, entry.value.shape[split.axis] == split.length else {
                throw HDF5Error(path: file, message: "'\(entry.key)' has shape \(entry.value.shape), not \(split.length) along axis \(split.axis)")
            }
            result[entry.key] = entry.value.sliced(axis: split.axis, group.part(of: split.length)).contiguous()
        }
    }

    func local(_ state: AdamW.State, buffer: ParameterBuffer) -> AdamW.State {
        let local = { (moments: [Float]) -> [Float] in
            var offset = 0
            return buffer.parameters.flatMap { entry -> [Float] in
                guard let split = self.layout.splits[entry.name] else {
                    defer { offset += entry.parameter.value.count }
                    return Array(moments[offset..<(offset + entry.parameter.value.count)])
                }
                var shape = entry.parameter.shape
                shape[split.axis] = split.length
                let count = shape.reduce(1, *)
                defer { offset += count }
                let whole = Tensor(shape: shape, values: Array(moments[offset..<(offset + count)]))
                return whole.sliced(axis: split.axis, self.group.part(of: split.length)).contiguous().toArray()
            }
        }
        guard state.firstMoment.count == wholeCount(buffer) else { return state }
        return AdamW.State(step: state.step, firstMoment: local(state.firstMoment), secondMoment: local(state.secondMoment))
    }

    /// Scalars of the whole model's trainable parameters.
    func wholeCount(_ buffer: ParameterBuffer) -> Int {
        buffer.parameters.map { entry in
            layout.splits[entry.name].map { entry.parameter.value.count / entry.parameter.shape[$0.axis] * $0.length } ?? entry.parameter.value.count
        }.reduce(0, +)
    }

    // MARK: Gradient norm

    /// The L2 norm of the whole model's gradient: split parameters from every rank, replicated ones
    /// (equal on every rank) once.
    func gradientNorm(_ buffer: ParameterBuffer) -> Double {
        var sum = [zip(buffer.parameters, buffer.ranges).reduce(0.0) { total, pair in
            let (entry, range) = pair
            guard layout.splits[entry.name] != nil || group.rank == 0 else { return total }
            return total + kb_sum_squares(buffer.gradients.pointer + range.lowerBound, range.count)
        }]
        sum.withUnsafeMutableBufferPointer { group.communicator.allReduce($0, .sum) }
        return sum[0].squareRoot()
    }
}
