import KibanTensor

// Dim legend: B batch, T tokens, C input features, D output features, V vocabulary.

/// How a layer draws its initial weights.
public enum Initialization {
    /// Normal(0, std²) weights — BERT/ESM/Llama use std = 0.02 (`initializer_range`).
    case normal(std: Float)
    /// Uniform(±1/√fanIn), PyTorch's `nn.Linear` default scale.
    case uniformFanIn

    func tensor(_ shape: [Int], fanIn: Int, generator: RandomGenerator) -> Tensor {
        switch self {
        case .normal(let std): Tensor.randn(shape, scale: std, generator: generator)
        case .uniformFanIn:
            Tensor.uniform(shape, low: -1 / Float(fanIn).squareRoot(), high: 1 / Float(fanIn).squareRoot(), generator: generator)
        }
    }
}

/// y = x Wᵀ + b, with W stored (D, C) as in PyTorch so checkpoints load unchanged.
/// LoRA adapters attach here (``LoRA/apply(to:configuration:name:trainable:generator:)``); their
/// weights appear as children `lora_A.<name>`, `lora_B.<name>` and, for DoRA,
/// `lora_magnitude_vector.<name>` as in PEFT's live modules. ``quantizeToInt8()`` adds an int8
/// copy of the weight that the forward pass then uses (W8A8 inference).
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    /// Attached adapters by name, in attachment order.
    public internal(set) var adapters: [(name: String, adapter: LoRAAdapter)] = []
    /// The adapter applied in the forward pass (nil: the base layer alone).
    public var activeAdapter: String?
    /// Whether the active adapter is folded into `weight`.
    public internal(set) var isMerged = false
    /// The int8 copy of `weight` the forward pass uses instead of it, and the adapter merged into
    /// it when it was packed (see ``quantizeToInt8()``); nil for float inference.
    var quantized: (weight: Int8Weight, mergedAdapter: String?)?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, initialization: Initialization, generator: RandomGenerator) {
        weight = Parameter(initialization.tensor([outFeatures, inFeatures], fanIn: inFeatures, generator: generator))
        self.bias = bias ? Parameter(Tensor.zeros([outFeatures]), decays: false) : nil
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    override public var children: [(key: String, module: Module)] {
        adapters.flatMap { name, adapter in
            [("lora_A.\(name)", adapter.down as Module), ("lora_B.\(name)", adapter.up as Module), ("lora_dropout.\(name)", adapter.dropout as Module)]
                + (adapter.magnitude.map { [("lora_magnitude_vector.\(name)", $0 as Module)] } ?? [])
        }
    }

    /// x: (…, C) → (…, D), one fused op (bias accumulated by the GEMM), plus the active adapter's
    /// low-rank update (or DoRA's rescaled one) unless it is merged. A quantised layer runs
    /// ``Tensor/int8Linear(_:weight:bias:)`` instead, inference only (see ``quantizeToInt8()``).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let quantized { return int8Forward(x, quantized.weight, mergedAdapter: quantized.mergedAdapter) }
        let base = Tensor.linear(x, weight: weight.value, bias: bias?.value)
        guard !isMerged, let adapter = active else { return base }
        if let magnitude = adapter.magnitude {
            return base + adapter.doraUpdate(x, magnitude: magnitude, baseOutput: base, weight: weight.value, bias: bias?.value)
        }
        return base + adapter(x)
    }

    /// self(x) + residual, the add done in the GEMM's epilogue while each tile is in cache (equal bit for
    /// bit to the separate add); a separate add where an unmerged adapter or int8 weights run.
    /// x: (…, C), residual: (…, D) → (…, D).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor {
        guard runsPlainGEMM else { return residual + self(x) }
        return Tensor.linear(x, weight: weight.value, bias: bias?.value, residual: residual)
    }

    /// GELU(self(x)), the GELU done in the GEMM's epilogue (equal bit for bit to the separate GELU);
    /// a separate GELU where an unmerged adapter or int8 weights run. x: (…, C) → (…, D).
    public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
        guard runsPlainGEMM else { return self(x).gelu(approximation: approximation) }
        return Tensor.linearGELU(x, weight: weight.value, bias: bias?.value, approximation: approximation)
    }

    /// Whether the forward pass is the float GEMM alone (no int8 weights, no unmerged adapter).
    private var runsPlainGEMM: Bool { quantized == nil && (isMerged || active == nil) }
}

/// A lookup table of V vectors of width C.
public final class Embedding: Module {
    public let weight: Parameter

    public init(_ count: Int, _ dimensions: Int, initialization: Initialization = .normal(std: 0.02), generator: RandomGenerator) {
        weight = Parameter(initialization.tensor([count, dimensions], fanIn: dimensions, generator: generator))
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }

    /// ids: (B, T) → (B, T, C).
    public func callAsFunction(_ ids: IndexTensor) -> Tensor {
        weight.value.indexSelect(axis: 0, indices: ids)
    }
}

/// Layer normalisation over the last axis with learned scale and shift (one fused op).
public final class LayerNorm: Module {
    public let weight: Parameter
    public let bias: Parameter
    public let epsilon: Float

    public init(_ dimensions: Int, epsilon: Float = 1e-5) {
        weight = Parameter(Tensor.ones([dimensions]), decays: false)
        bias = Parameter(Tensor.zeros([dimensions]), decays: false)
        self.epsilon = epsilon
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

    /// x: (…, C) → (…, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight.value, bias: bias.value, epsilon: epsilon)
    }
}

/// Root-mean-square normalisation (Llama): x / √(mean(x²) + ε) ⊙ w, computed in float32.
public final class RMSNorm: Module {
    public let weight: Parameter
    public let epsilon: Float

    public init(_ dimensions: Int, epsilon: Float = 1e-6) {
        weight = Parameter(Tensor.ones([dimensions]), decays: false)
        self.epsilon = epsilon
    }

    override public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }

    /// x: (…, C) → (…, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let meanSquare = (x * x).mean(axes: [-1], keepingDimensions: true)
        return x / (meanSquare + epsilon).sqrt() * weight.value
    }
}

/// Inverted dropout that is active only in training mode.
public final class Dropout: Module {
    public let probability: Float
    let generator: RandomGenerator

    public init(_ probability: Float, generator: RandomGenerator) {
        self.probability = probability
        self.generator = generator
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.dropout(probability: probability, generator: generator, training: isTraining)
    }

    /// Whether the forward pass changes its input (training with p > 0); where it does not, a layer
    /// may fuse the residual add that follows into the preceding GEMM.
    public var isActive: Bool { isTraining && probability > 0 }
}
