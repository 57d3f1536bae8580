import Foundation

extension Metric {
    /// Perplexity exp(NLL / T) of T tokens whose negative log-likelihoods (natural log) sum to
    /// `negativeLogLikelihood`: the exponential of the mean token cross-entropy, as
    /// `numpy.exp(nll / tokens)` (and `torch.exp` of a mean `F.cross_entropy`). Throws unless T > 0
    /// and the NLL is finite and ≥ 0.
    public static func perplexity(negativeLogLikelihood: Double, tokenCount: Int) throws -> Double {
        guard tokenCount > 0 else { throw MetricError("perplexity: \(tokenCount) tokens; needs at least one") }
        guard negativeLogLikelihood.isFinite, negativeLogLikelihood >= 0 else {
            throw MetricError("perplexity: summed negative log-likelihood \(negativeLogLikelihood) is not a finite number ≥ 0")
        }
        return exp(negativeLogLikelihood / Double(tokenCount))
    }
}
