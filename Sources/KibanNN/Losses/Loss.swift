import KibanTensor

/// Regression and binary losses (mean reduction, as PyTorch's defaults). Every loss of Kiban lives
/// in this folder; cross-entropy is the fused
/// ``KibanTensor/Tensor/crossEntropy(targets:ignoreIndex:labelSmoothing:classWeights:)`` beside it.
public enum Loss {
    /// mean((prediction − target)²).
    public static func meanSquaredError(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        checkShapes("mse", prediction, target)
        return (prediction - target).squared().mean()
    }

    /// mean(|prediction − target|) (`F.l1_loss`).
    public static func meanAbsoluteError(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        checkShapes("l1", prediction, target)
        return (prediction - target).abs().mean()
    }

    /// mean of ½d² where |d| ≤ δ, else δ(|d| − ½δ), with d = prediction − target (`F.huber_loss`).
    public static func huber(_ prediction: Tensor, _ target: Tensor, delta: Float = 1) -> Tensor {
        checkShapes("huber", prediction, target)
        let difference = prediction - target
        let magnitude = difference.abs()
        let quadratic = difference.squared() * 0.5, linear = (magnitude - 0.5 * delta) * delta
        return Tensor.where(lessOrEqual(magnitude, delta), quadratic, linear).mean()
    }

    /// Binary cross-entropy on logits, computed stably as max(x, 0) − x·y + log(1 + e^−|x|)
    /// (`F.binary_cross_entropy_with_logits`). targets in [0, 1].
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, _ targets: Tensor) -> Tensor {
        checkShapes("binary_cross_entropy_with_logits", logits, targets)
        return (logits.relu() - logits * targets + ((-logits.abs()).exp() + 1).log()).mean()
    }

    /// 1 where x ≤ bound, else 0 (a constant mask).
    static func lessOrEqual(_ x: Tensor, _ bound: Float) -> Tensor {
        withNoGrad { Tensor(shape: x.shape, values: x.toArray().map { $0 <= bound ? 1 : 0 }) }
    }

    static func checkShapes(_ op: String, _ prediction: Tensor, _ target: Tensor) {
        tensorCheck(
            prediction.shape == target.shape, op,
            "prediction of shape \(describeShape(prediction.shape)) and target of shape \(describeShape(target.shape)) differ")
    }
}

/// The regression losses a task trains with, by their config names (`task.loss`).
public enum RegressionLoss: String, Codable, CaseIterable, Sendable {
    case mse, l1, huber

    /// The mean loss of `prediction` against `target` (same shapes).
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        switch self {
        case .mse: Loss.meanSquaredError(prediction, target)
        case .l1: Loss.meanAbsoluteError(prediction, target)
        case .huber: Loss.huber(prediction, target)
        }
    }
}
