import Foundation

/// One episode as PPO learns from it: the decisions taken, the log-probability each active
/// decision had under the policy that took it, and the episode's advantage.
struct PolicyEpisode {
    var decisions: [Int?]
    /// log π_old(aⱼ | a₍<ⱼ₎) of each active decision, in order.
    var oldLogProbabilities: [Double]
    var advantage: Double
}

/// Proximal policy optimisation over a batch of episodes (Schulman et al. 2017, "Proximal Policy
/// Optimization Algorithms", eq. 7): the advantages are normalised over the batch (mean 0,
/// deviation 1), then `epochs` Adam steps each on the mean over the batch of the clipped surrogate
/// Σⱼ −min(rⱼ·A, clip(rⱼ, 1 − ε, 1 + ε)·A) − β·H(πⱼ), with rⱼ = π(aⱼ)/π_old(aⱼ) per decision.
///
/// - Returns: the mean loss of the first epoch (before any step).
@discardableResult
func proximalPolicyUpdate(_ policy: PolicyNetwork, episodes: [PolicyEpisode], epochs: Int, clip: Double,
                          entropyWeight: Double, learningRate: Float) -> Double {
    guard !episodes.isEmpty else { return 0 }
    let advantages = normalised(episodes.map(\.advantage))
    let scale = 1 / Double(episodes.count)
    var firstLoss = 0.0
    for epoch in 0..<epochs {
        policy.store.zeroGradients()
        var total = 0.0
        for (episode, advantage) in zip(episodes, advantages) {
            total += policy.accumulateGradient(episode.decisions) { row, z, a in
                let term = clippedSurrogateLoss(logits: z, action: a, oldLogProbability: episode.oldLogProbabilities[row],
                                                advantage: advantage, clip: clip, entropyWeight: entropyWeight)
                return (term.loss * scale, term.gradient.map { $0 * scale })
            }
        }
        if epoch == 0 { firstLoss = total }
        policy.step(learningRate: learningRate)
    }
    return firstLoss
}

/// The clipped surrogate loss of one decision and its gradient with respect to the decision's
/// logits z (Schulman et al. 2017, eq. 7, with the entropy bonus of eq. 9):
///
///     r = π(a)/π_old(a),  L = −min(r·A, clip(r, 1 − ε, 1 + ε)·A) − β·H(π)
///     ∂L/∂zₖ = A·r·(πₖ − [k = a]) + β·πₖ·(log πₖ + H)   where the unclipped term is the minimum,
///     ∂L/∂zₖ = β·πₖ·(log πₖ + H)                        where the clipped one is (it is constant in z).
///
/// - Parameters:
///   - logits: z, one per option.
///   - action: a, the option taken.
///   - oldLogProbability: log π_old(a) under the policy that took it.
///   - advantage: A.
///   - clip: ε.
///   - entropyWeight: β ≥ 0.
func clippedSurrogateLoss(logits: [Double], action: Int, oldLogProbability: Double, advantage: Double, clip: Double,
                          entropyWeight: Double) -> (loss: Double, gradient: [Double]) {
    let logp = logSoftmax(logits)
    let p = logp.map { Foundation.exp($0) }
    var entropy = 0.0
    for k in p.indices where p[k] > 0 { entropy -= p[k] * logp[k] }
    let ratio = Foundation.exp(logp[action] - oldLogProbability)
    let clipped = Swift.min(Swift.max(ratio, 1 - clip), 1 + clip)
    let unclippedTerm = ratio * advantage, clippedTerm = clipped * advantage
    let useUnclipped = unclippedTerm <= clippedTerm
    let loss = -Swift.min(unclippedTerm, clippedTerm) - entropyWeight * entropy
    let gradient = p.indices.map { k -> Double in
        let entropyTerm = p[k] > 0 ? entropyWeight * p[k] * (logp[k] + entropy) : 0
        let surrogate = useUnclipped ? advantage * ratio * (p[k] - (k == action ? 1 : 0)) : 0
        return surrogate + entropyTerm
    }
    return (loss, gradient)
}

/// `values` shifted to mean 0 and scaled to deviation 1 (only shifted when they barely vary).
func normalised(_ values: [Double]) -> [Double] {
    guard !values.isEmpty else { return [] }
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
    let deviation = variance.squareRoot()
    return values.map { deviation > 1e-8 ? ($0 - mean) / deviation : $0 - mean }
}
