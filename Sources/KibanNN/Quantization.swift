import Foundation
import KibanTensor

// Dim legend: C input features, D output features.

/// A lower-precision form for the Linear layers of a model at inference time.
public enum Quantization: String, CaseIterable, Codable, Sendable {
    /// W8A8: int8 weights with one scale per output channel, int8 activations with one scale per
    /// token (row) chosen at run time, int32 accumulation (AVX-512 VNNI where the CPU has it).
    case int8
}

extension Module {
    /// Packs every Linear of this tree whose dotted path matches none of `excluding` (regular
    /// expressions, matched anywhere in the path as LoRA's `target_modules`) into `quantization`,
    /// and returns the quantised paths. Layers that belong to a LoRA adapter (`lora_A`, `lora_B`)
    /// are never packed themselves.
    ///
    /// A layer with an active, unmerged LoRA or DoRA adapter is merged first (``Linear/merge()``),
    /// so the int8 weight includes the adapter's update. The float weights stay, so the model still
    /// saves and loads as before; the int8 copies are made from the weights as they are now, so
    /// load checkpoints and choose adapters before quantising (or quantise again afterwards).
    /// Quantised layers are inference-only: run them inside ``withNoGrad(_:)``; a forward pass
    /// that would need a gradient stops with an error. ``dequantizeLinears()`` undoes this.
    /// Throws, changing nothing, when a pattern is not a valid regular expression.
    @discardableResult
    public func quantizeLinears(to quantization: Quantization = .int8, excluding: [String] = []) throws -> [String] {
        let patterns = try excluding.map { try NSRegularExpression(pattern: $0) }
        let linears = namedModules().compactMap { path, module in (module as? Linear).map { (path: path, linear: $0) } }
        let adapterLayers = Set(linears.flatMap { _, linear in
            linear.adapters.flatMap { [ObjectIdentifier($0.adapter.down), ObjectIdentifier($0.adapter.up)] }
        })
        let targets = linears.filter { path, linear in
            !adapterLayers.contains(ObjectIdentifier(linear))
                && !patterns.contains { $0.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil }
        }
        for (_, linear) in targets {
            switch quantization {
            case .int8: linear.quantizeToInt8()
            }
        }
        return targets.map(\.path)
    }

    /// Drops the quantised copies of every Linear in this tree: float inference (and training)
    /// again. Adapters merged by ``quantizeLinears(to:excluding:)`` stay merged.
    public func dequantizeLinears() {
        for case let (_, linear as Linear) in namedModules() { linear.dequantize() }
    }
}

extension Linear {
    /// Whether the forward pass runs in int8 (``quantizeToInt8()``).
    public var isQuantized: Bool { quantized != nil }

    /// Quantises the current weight to int8 per output channel and packs it; from now on the
    /// forward pass is ``Tensor/int8Linear(_:weight:bias:)``, inference only. An active unmerged
    /// adapter is merged into the weight first. Calling it again re-packs the current weight.
    public func quantizeToInt8() {
        merge()
        quantized = (Int8Weight(weight.value), activeAdapter)
    }

    /// Drops the int8 copy; the float weight is used again.
    public func dequantize() {
        quantized = nil
    }

    /// The int8 forward pass, after checking that the adapters are as they were when it was packed
    /// and that no gradient is needed. x: (…, C) → (…, D).
    func int8Forward(_ x: Tensor, _ packed: Int8Weight, mergedAdapter: String?) -> Tensor {
        tensorCheck(
            activeAdapter == mergedAdapter && (mergedAdapter == nil || isMerged), "int8 linear",
            "the int8 weight was packed with adapter \(mergedAdapter ?? "none") merged, but the active adapter is now "
                + "\(activeAdapter ?? "none")\(isMerged ? " (merged)" : " (unmerged)"); quantise again after changing adapters")
        tensorCheck(
            !GradMode.isEnabled || !(x.requiresGrad || weight.value.requiresGrad || bias?.value.requiresGrad == true),
            "int8 linear",
            "a quantised Linear is inference-only and cannot pass gradients; run the model inside withNoGrad { }, "
                + "or call dequantizeLinears() before training")
        return Tensor.int8Linear(x, weight: packed, bias: bias?.value)
    }
}
