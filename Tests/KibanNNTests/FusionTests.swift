import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// Fusion blocks for multimodal adapters: Flamingo's gated cross-attention and perceiver resampler.
@Suite("Fusion blocks")
struct FusionTests {
    static var keep: Tensor { Tensor(shape: [2, 5], values: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]) }

    static func largestDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test func closedGatesReturnTheInputExactly() {
        let block = GatedCrossAttention(width: 8, heads: 2, feedForward: 16, initialization: .normal(std: 0.3), generator: RandomGenerator(seed: 1))
        let generator = RandomGenerator(seed: 2)
        let x = Tensor.randn([2, 3, 8], generator: generator), modality = Tensor.randn([2, 5, 8], generator: generator)
        #expect(block(x, modality: modality, modalityMask: Self.keep).toArray() == x.toArray())
    }

    @Test func closedGatesStillTakeAGradient() {
        let block = GatedCrossAttention(width: 8, heads: 2, feedForward: 16, initialization: .normal(std: 0.3), generator: RandomGenerator(seed: 1))
        let generator = RandomGenerator(seed: 3)
        let x = Tensor.randn([2, 3, 8], generator: generator), modality = Tensor.randn([2, 5, 8], generator: generator)
        (block(x, modality: modality, modalityMask: Self.keep) * Tensor.randn([2, 3, 8], generator: generator)).sum().backward()
        #expect(abs(block.attentionGate.value.grad!.item()) > 1e-3 && abs(block.mlpGate.value.grad!.item()) > 1e-3)
    }

    @Test func gatedCrossAttentionGradientsMatchFiniteDifferences() {
        let block = GatedCrossAttention(width: 8, heads: 2, feedForward: 16, initialization: .normal(std: 0.3), generator: RandomGenerator(seed: 4))
        block.attentionGate.value = Tensor(shape: [1], values: [0.7])
        block.mlpGate.value = Tensor(shape: [1], values: [-0.4])
        let check = GradientCheck.Case("gated cross-attention (2, 3, 8) over a padded modality (2, 5, 8)", shapes: [[2, 3, 8], [2, 5, 8]]) {
            block($0[0], modality: $0[1], modalityMask: Self.keep)
        }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    @Test func resamplerGradientsMatchFiniteDifferences() {
        let resampler = PerceiverResampler(width: 8, latents: 3, heads: 2, depth: 2, feedForward: 16, generator: RandomGenerator(seed: 5))
        let check = GradientCheck.Case("perceiver resampler, 3 latents over a padded modality (2, 5, 8)", shapes: [[2, 5, 8]]) {
            resampler($0[0], mask: Self.keep)
        }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }

    /// K latents out whatever the length; the order of the modality's tokens and what padding holds do not matter.
    @Test func resamplerOutputIgnoresTokenOrderAndPadding() {
        let resampler = PerceiverResampler(width: 8, latents: 3, heads: 2, depth: 2, feedForward: 16, generator: RandomGenerator(seed: 6))
        let generator = RandomGenerator(seed: 7)
        let modality = Tensor.randn([1, 6, 8], generator: generator)
        let output = resampler(modality)
        #expect(output.shape == [1, 3, 8])
        let reversed = Tensor.concatenate((0..<6).reversed().map { modality.sliced(axis: 1, $0..<($0 + 1)) }, axis: 1)
        #expect(Self.largestDifference(resampler(reversed), output) <= 1e-5, "tokens reversed")
        let padded = Tensor.concatenate([modality, Tensor.randn([1, 2, 8], scale: 100, generator: generator)], axis: 1)
        let masked = resampler(padded, mask: Tensor(shape: [1, 8], values: [1, 1, 1, 1, 1, 1, 0, 0]))
        #expect(Self.largestDifference(masked, output) <= 1e-5, "padding ignored")
    }

    @Test func descriptorProjectorGradientsMatchFiniteDifferences() {
        let projector = DescriptorProjector(descriptors: 5, width: 4, tokens: 3, hidden: 7, generator: RandomGenerator(seed: 8))
        projector.standardize(using: [[1, 2, 3, 4, 5], [2, 0, 3, 1, 9], [0, 1, 3, 2, 4]])
        #expect(projector.scale.value.toArray()[2] == 1, "a constant descriptor keeps scale 1")
        let check = GradientCheck.Case("descriptor projector (2, 5) → (2, 3, 4)", shapes: [[2, 5]]) { projector($0[0]) }
        let mismatch = GradientCheck.run(check)
        #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    }
}
