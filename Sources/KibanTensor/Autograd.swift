/// One recorded operation on the dynamic tape.
///
/// A node keeps the closure that maps the gradient of its output to the gradients of its inputs,
/// and one edge per input. Saved tensors live only inside that closure, so dropping the closure
/// after it has run releases them.
public final class GradNode {
    /// Where an input's gradient goes.
    enum Edge {
        /// The input was computed by another recorded op.
        case node(GradNode)
        /// The input is a leaf that wants a gradient.
        case leaf(Tensor)
        /// The input needs no gradient.
        case none
    }

    /// Name of the operation, used in error messages.
    public let op: String
    let inputShapes: [[Int]]
    var edges: [Edge]
    var backwardFunction: ((Tensor) -> [Tensor?])?

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.inputShapes = inputs.map(\.shape)
        self.edges = inputs.map { input in
            if let node = input.gradNode { return .node(node) }
            return input.requiresGrad ? .leaf(input) : .none
        }
        self.backwardFunction = backward
    }

}

/// Whether operations record onto the tape. Use ``withNoGrad(_:)`` to turn it off in a scope.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording operations (inference, optimizer updates, gradient checks).
public func withNoGrad<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

extension Tensor {
    /// Records `output` as the result of `op` on `inputs` when any input requires a gradient.
    ///
    /// `backward` receives the gradient of `output` (same shape) and returns one gradient per
    /// input, each of that input's shape, or `nil` where the input needs none (a backward may skip
    /// inputs whose `requiresGrad` was false when the op ran). It runs once,
    /// without recording, and is then dropped together with everything it captured.
    /// This is also the way to define a custom differentiable op.
    @discardableResult
    public static func record(
        _ op: String, inputs: [Tensor], output: Tensor, backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: \.requiresGrad) else { return output }
        output.gradNode = GradNode(op: op, inputs: inputs, backward: backward)
        return output
    }

    /// Back-propagates from this tensor through the tape.
    ///
    /// `gradient` is the gradient of the final objective with respect to this tensor (same shape);
    /// it may be omitted only for a one-element tensor (a loss), where it is 1. Leaf gradients
    /// accumulate into ``grad``. Each node runs once and then frees what it saved, so calling
    /// `backward` twice through the same graph stops with an error.
    public func backward(gradient: Tensor? = nil) {
        let seed: Tensor
        if let gradient {
            tensorCheck(
                gradient.shape == shape, "backward",
                "gradient of shape \(describeShape(gradient.shape)) for a tensor of shape \(describeShape(shape))")
            seed = gradient
        } else {
            tensorCheck(
                count == 1, "backward",
                "an implicit gradient needs a one-element tensor, not shape \(describeShape(shape))")
            seed = Tensor.full(shape, 1)
        }
        tensorCheck(
            requiresGrad, "backward",
            "tensor of shape \(describeShape(shape)) does not require a gradient and was not computed from one that does")
        withNoGrad {
            guard let root = gradNode else {
                accumulateLeafGradient(seed)
                return
            }
            var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
            for node in Self.topologicalOrder(from: root) {
                guard let outputGradient = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
                guard let function = node.backwardFunction else {
                    tensorFailure(node.op, "backward through this graph a second time (its saved values are freed)")
                }
                let inputGradients = function(outputGradient)
                tensorCheck(
                    inputGradients.count == node.edges.count, node.op,
                    "backward returned \(inputGradients.count) gradients for \(node.edges.count) inputs")
                for (index, (edge, inputGradient)) in zip(node.edges, inputGradients).enumerated() {
                    guard let inputGradient else { continue }
                    tensorCheck(
                        inputGradient.shape == node.inputShapes[index], node.op,
                        "backward gave input \(index) a gradient of shape \(describeShape(inputGradient.shape)) "
                            + "but the input has shape \(describeShape(node.inputShapes[index]))")
                    switch edge {
                    case .node(let parent):
                        let key = ObjectIdentifier(parent)
                        pending[key] = pending[key].map { $0 + inputGradient } ?? inputGradient
                    case .leaf(let leaf):
                        leaf.accumulateLeafGradient(inputGradient)
                    case .none:
                        break
                    }
                }
                node.backwardFunction = nil
                node.edges = []
            }
        }
    }

    /// The buffer a backward pass may accumulate this tensor's gradient into directly, instead of
    /// returning it: ``grad`` when this is a leaf that requires a gradient and already has a
    /// contiguous one of its shape (a flat gradient buffer's view, as `ParameterBuffer` sets). A
    /// backward that uses it returns nil for this input.
    var leafGradientBuffer: Tensor? {
        guard requiresGrad, gradNode == nil, let grad, grad.shape == shape, grad.isContiguous else { return nil }
        return grad
    }

    /// Adds `gradient` into ``grad``, allocating it on first use. An existing `grad` is updated
    /// in place, so a caller may point it into a flat gradient buffer beforehand.
    func accumulateLeafGradient(_ gradient: Tensor) {
        if let existing = grad {
            existing.addInPlace(gradient)
        } else {
            grad = gradient.copied()
        }
    }

    /// Nodes reachable from `root`, each after every node that consumes its output.
    static func topologicalOrder(from root: GradNode) -> [GradNode] {
        var visited = Set<ObjectIdentifier>()
        var postOrder: [GradNode] = []
        var stack: [(node: GradNode, nextEdge: Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (node, nextEdge) = stack.last {
            if nextEdge == node.edges.count {
                postOrder.append(node)
                stack.removeLast()
                continue
            }
            stack[stack.count - 1].nextEdge += 1
            if case .node(let child) = node.edges[nextEdge], visited.insert(ObjectIdentifier(child)).inserted {
                stack.append((child, 0))
            }
        }
        return postOrder.reversed()
    }
}
