import KibanTensor

/// The trainable parameters of a module in two flat allocations — values and gradients — with
/// each `Parameter` re-pointed to a view (llm.c's `malloc_and_point_parameters`).
///
/// An optimizer update is one loop per range, an all-reduce one call per bucket, a ZeRO shard an
/// offset range. Parameters that take weight decay come first (``decayRange``), the rest after
/// (``noDecayRange``). Tied parameters occupy one slot. Frozen parameters are left out.
public final class ParameterBuffer {
    /// Trainable parameters in buffer order, under their first dotted name.
    public let parameters: [(name: String, parameter: Parameter)]
    /// Offsets of each parameter (same order as `parameters`).
    public let ranges: [Range<Int>]
    /// Flat values and gradients.
    public let values: Storage, gradients: Storage
    /// Elements of parameters that decay, then of those that do not.
    public let decayRange: Range<Int>, noDecayRange: Range<Int>

    /// Total number of trainable scalars.
    public let count: Int

    /// `paddedTo`: the storages hold a multiple of it (zeros after `count`), so equal ZeRO shards
    /// and reduce-scatter blocks cover them.
    public init(module: Module, paddedTo multiple: Int = 1) {
        let trainable = module.trainableParameters()
        parameters = trainable.filter { $0.parameter.decays } + trainable.filter { !$0.parameter.decays }
        var offset = 0
        ranges = parameters.map { entry in
            defer { offset += entry.parameter.value.count }
            return offset..<(offset + entry.parameter.value.count)
        }
        let decaying = trainable.filter { $0.parameter.decays }.map { $0.parameter.value.count }.reduce(0, +)
        decayRange = 0..<decaying
        noDecayRange = decaying..<offset
        count = offset
        let padded = (offset + multiple - 1) / multiple * multiple
        values = Storage(count: padded, repeating: 0)
        gradients = Storage(count: padded, repeating: 0)
        for ((_, parameter), range) in zip(parameters, ranges) {
            let view = Tensor(storage: values, shape: parameter.shape, offset: range.lowerBound)
            view.assign(parameter.value)
            parameter.value = view
        }
        pointGradients()
    }

    /// Sets every gradient to zero (one fill) and makes sure each parameter's `grad` is its view.
    public func zeroGradients() {
        gradients.pointer.update(repeating: 0, count: gradients.count)
        pointGradients()
    }

    private func pointGradients() {
        for ((_, parameter), range) in zip(parameters, ranges) {
            parameter.value.grad = Tensor(storage: gradients, shape: parameter.shape, offset: range.lowerBound)
        }
    }
}
