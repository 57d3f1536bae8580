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

    /// Every model tensor whole, by dotted name.
    func wholeTensors(_ module: Module) -> [String: Tensor] {
        module.stateDict().sorted { $0.key < $1.key }.reduce(into: [:]) { result, entry in
            result[entry.key] = layout.splits[entry.key].map { gather(entry.value, $0) } ?? entry.value
        }
    }

    /// Optimizer moments of whole tensors, in `buffer`'s order (the order of an unsplit model's buffer).
    func wholeState(_ state: AdamW.State, buffer: ParameterBuffer) -> AdamW.State {
        let whole = { (moments: [Float]) -> [Float] in
            zip(buffer.parameters, buffer.ranges).flatMap { entry, range -> [Float] in
                let local = Tensor(shape: entry.parameter.shape, values: Array(moments[range]))
                return self.layout.splits[entry.name].map { self.gather(local, $0).toArray() } ?? local.toArray()
            }
        }
        return AdamW.State(step: state.step, firstMoment: whole(state.firstMoment), secondMoment: whole(state.secondMoment))
    }

    /// The ranks' slices of `local` concatenated along the split axis (parts may differ by one row).
    private func gather(_ local: Tensor, _ split: TensorParallelLayout.Split) -> Tensor {
        let inner = local.count / local.shape[split.axis]
        let longest = group.part(of: split.length, rank: 0).count * inner
        var padded = local.toArray()
        padded += [Float](repeating: 0, count: longest - padded.count)
        var all = [Float](repeating: 0, count: longest * group.size)
        padded.withUnsafeBufferPointer { input in
            all.withUnsafeMutableBufferPointer { group.communicator.allGather(input, into: $0) }
        }
        let parts = (0..<group.size).map { rank -> Tensor in
            var shape = local.shape
            shape[split.axis] = group.part(of: split.length, rank: rank).count
            return Tensor(shape: shape, values: Array(all[(rank * longest)..<(rank * longest + shape[split.axis] * inner)]))
        }
        return Tensor.concatenate(parts, axis: split.axis)
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
