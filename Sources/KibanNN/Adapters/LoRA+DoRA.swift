import KibanTensor

// Dim legend: C input features, D output features.

/// DoRA's learned magnitude per output feature (PEFT's `lora_magnitude_vector.<name>`, whose one
/// parameter is `weight`).
public final class DoRAMagnitude: Module {
    /// m: (D).
    public let weight: Parameter

    init(_ values: Tensor) {
        weight = Parameter(values)
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }
}

/// DoRA's arithmetic, as PEFT's `DoraLinearLayer` and `DoraLinearVariant` compute it.
enum DoRA {
    /// ‖W + ΔW‖ per output feature (the L2 norm of each row), never differentiated: PEFT detaches
    /// it in the forward pass (DoRA paper, section 4.3). weight, delta: (D, C) → (D).
    static func weightNorm(_ weight: Tensor, delta: Tensor) -> Tensor {
        withNoGrad { (weight + delta).squared().summed(axes: [1]).sqrt() }
    }
}

extension LoRAAdapter {
    /// What DoRA adds to the base output. With s = m / ‖W + ΔW‖ (the norm a constant) and x′ the
    /// input after the adapter's dropout: (s − 1) ⊙ x′Wᵀ + s ⊙ scaling·B·A·x′, so that the layer gives
    /// s ⊙ (W + ΔW)·x + b when dropout is off. As in PEFT, x′Wᵀ is the base output less its bias when
    /// dropout is off (p = 0 or evaluation mode) and is recomputed from x′ otherwise.
    ///
    /// x: (…, C); magnitude m: (D); baseOutput = x Wᵀ + b: (…, D); weight W: (D, C) → (…, D).
    func doraUpdate(_ x: Tensor, magnitude: DoRAMagnitude, baseOutput: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let scale = magnitude.weight.value / DoRA.weightNorm(weight, delta: delta())
        let dropped = dropout(x)
        let projected = dropout.probability == 0 || !dropout.isTraining
            ? bias.map { baseOutput - $0 } ?? baseOutput
            : Tensor.linear(dropped, weight: weight, bias: nil)
        return (scale - 1) * projected + scale * up(down(dropped)) * scaling
    }
}

extension Linear {
    /// DoRA merge: W ← (m / ‖W + ΔW‖)ᵀ ⊙ (W + ΔW), remembering the norm for ``unmergeDoRA(_:)``.
    func mergeDoRA(_ adapter: LoRAAdapter, magnitude: DoRAMagnitude) {
        withNoGrad {
            let delta = adapter.delta()
            let norm = DoRA.weightNorm(weight.value, delta: delta)
            adapter.mergedNorm = norm
            weight.value.assign((magnitude.weight.value / norm).unsqueezed(1) * (weight.value + delta))
        }
    }

    /// DoRA unmerge: W ← W / (m / ‖W + ΔW‖)ᵀ − ΔW with the norm saved at merge time.
    func unmergeDoRA(_ adapter: LoRAAdapter, magnitude: DoRAMagnitude) {
        guard let norm = adapter.mergedNorm else { tensorFailure("dora", "unmerge without a merge") }
        withNoGrad {
            weight.value.assign(weight.value / (magnitude.weight.value / norm).unsqueezed(1) - adapter.delta())
        }
        adapter.mergedNorm = nil
    }
}
