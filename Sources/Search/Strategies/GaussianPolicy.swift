import Foundation
import Engine

/// A diagonal Gaussian policy over the unit coordinates of a space's numeric dimensions, its mean
/// μ and log-deviation log σ learned per dimension by the natural policy gradient (Kakade 2001):
/// the separable natural evolution strategy of Schaul et al. 2011 ("High Dimensions and Heavy
/// Tails for Natural Evolution Strategies", SNES), which adapts each dimension's step size as
/// CMA-ES adapts its covariance, restricted to the diagonal.
///
/// An action is a latent x = μ + σ·ε (ε standard normal), reflected into [0, 1] at the bounds
/// (`reflected(_:)`), and the unit coordinate it lands on is the one learned from: a reflected
/// point is a draw the policy could have made near the bound, and a result told from outside —
/// another worker's or a resumed study's — is learned from the same way.
///
///     var policy = GaussianPolicy(dimensions: 1, deviation: 0.25)
///     policy.update([[0.75], [0.25]], utilities: [1, -1], meanRate: 0.5, deviationRate: 0.2)
///     policy.mean   // [0.75]: half-way to the better point; σ stays 0.25 (both are 1σ away)
struct GaussianPolicy: Hashable {
    /// μ per dimension, in unit coordinates.
    private(set) var mean: [Double]
    /// log σ per dimension.
    private(set) var logDeviation: [Double]
    /// The smallest σ of each dimension (see `init(mean:logDeviation:minimumDeviation:)`).
    let minimumDeviation: [Double]
    /// The smallest σ of a continuous dimension: finer than any step worth taking in a unit range.
    static let continuousMinimumDeviation = 1e-4

    /// - Parameters:
    ///   - dimensions: numeric dimensions the policy draws.
    ///   - deviation: σ of every dimension at the start (the mean starts at the centre, 0.5).
    ///   - minimumDeviation: the smallest σ of each dimension (nil: `continuousMinimumDeviation`).
    init(dimensions: Int, deviation: Double, minimumDeviation: [Double]? = nil) {
        self.init(mean: [Double](repeating: 0.5, count: dimensions),
                  logDeviation: [Double](repeating: Foundation.log(deviation), count: dimensions),
                  minimumDeviation: minimumDeviation)
    }

    /// A policy with the given μ and log σ per dimension. A dimension of n values (unit cells of
    /// width 1/n) should not fall below σ = 1/(2n): narrower, nearly every draw lands in the same
    /// cell, the ranks of a batch carry no information about the dimension, and its search stops.
    init(mean: [Double], logDeviation: [Double], minimumDeviation: [Double]? = nil) {
        precondition(mean.count == logDeviation.count, "\(mean.count) means for \(logDeviation.count) deviations")
        self.mean = mean; self.logDeviation = logDeviation
        self.minimumDeviation = minimumDeviation ?? [Double](repeating: GaussianPolicy.continuousMinimumDeviation, count: mean.count)
        precondition(self.minimumDeviation.count == mean.count, "\(self.minimumDeviation.count) minimum deviations for \(mean.count) dimensions")
    }

    var deviation: [Double] { logDeviation.map { Foundation.exp($0) } }

    /// A draw of dimension `d`, reflected into [0, 1].
    func sample(_ d: Int, using rng: inout RandomSource) -> Double {
        GaussianPolicy.reflected(mean[d] + Foundation.exp(logDeviation[d]) * Double(rng.nextNormal()))
    }

    /// log N(x | μ, σ²) summed over the dimensions with a coordinate (nil ones are inactive).
    func logDensity(_ x: [Double?]) -> Double {
        var total = 0.0
        for d in x.indices {
            guard let xd = x[d] else { continue }
            let z = (xd - mean[d]) / Foundation.exp(logDeviation[d])
            total -= 0.5 * z * z + logDeviation[d] + ParzenEstimator.logRootTwoPi
        }
        return total
    }

    /// ∇ log N(x | μ, σ²) with respect to μ and to log σ, per dimension (0 where x is inactive):
    ///
    ///     ∂/∂μ = (x − μ)/σ²,   ∂/∂log σ = (x − μ)²/σ² − 1
    func logDensityGradient(_ x: [Double?]) -> (mean: [Double], logDeviation: [Double]) {
        var gMean = [Double](repeating: 0, count: mean.count), gLog = gMean
        for d in x.indices {
            guard let xd = x[d] else { continue }
            let s = Foundation.exp(logDeviation[d]), z = (xd - mean[d]) / s
            gMean[d] = z / s
            gLog[d] = z * z - 1
        }
        return (gMean, gLog)
    }

    /// One natural-gradient ascent step on Σᵢ uᵢ·log π(xᵢ), the Fisher information of each
    /// dimension's (μ, log σ) being diag(1/σ², 2), so per dimension (SNES, Schaul et al. 2011):
    ///
    ///     μ ← μ + η_μ · Σᵢ uᵢ (xᵢ − μ)
    ///     log σ ← log σ + (η_σ / 2) · Σᵢ uᵢ ((xᵢ − μ)²/σ² − 1)
    ///
    /// where the sums run over the samples in which the dimension is active.
    /// - Parameters:
    ///   - samples: the unit coordinates of each sample (nil for an inactive dimension).
    ///   - utilities: uᵢ, one per sample (fitness shaping: see `rankUtilities`).
    ///   - meanRate: η_μ.
    ///   - deviationRate: η_σ.
    mutating func update(_ samples: [[Double?]], utilities: [Double], meanRate: Double, deviationRate: Double) {
        precondition(samples.count == utilities.count, "\(samples.count) samples for \(utilities.count) utilities")
        var stepMean = [Double](repeating: 0, count: mean.count), stepLog = stepMean
        for (x, u) in zip(samples, utilities) {
            let g = logDensityGradient(x)
            for d in mean.indices {
                let s2 = Foundation.exp(2 * logDeviation[d])
                stepMean[d] += u * g.mean[d] * s2          // F⁻¹ = σ² for μ
                stepLog[d] += u * g.logDeviation[d] / 2    // F⁻¹ = 1/2 for log σ
            }
        }
        let ceiling = Foundation.log(1.0)
        for d in mean.indices {
            let floor = Foundation.log(minimumDeviation[d])
            mean[d] = Swift.min(Swift.max(mean[d] + meanRate * stepMean[d], 0), 1)
            logDeviation[d] = Swift.min(Swift.max(logDeviation[d] + deviationRate * stepLog[d], floor), ceiling)
        }
    }

    /// x folded back into [0, 1] by reflection at both bounds.
    static func reflected(_ x: Double) -> Double {
        guard x.isFinite else { return 0.5 }
        var y = x.truncatingRemainder(dividingBy: 2)
        if y < 0 { y += 2 }
        return y <= 1 ? y : 2 - y
    }

    /// SNES's default step size for log σ in `dimensions` dimensions, (3 + ln d) / (5 √d)
    /// (Wierstra et al. 2014, "Natural Evolution Strategies", Table 1).
    static func defaultDeviationRate(dimensions: Int) -> Double {
        let d = Double(Swift.max(dimensions, 1))
        return (3 + Foundation.log(d)) / (5 * d.squareRoot())
    }
}

/// The fitness-shaping utilities of natural evolution strategies (Wierstra et al. 2014, "Natural
/// Evolution Strategies", JMLR 15, §3.1): the sample of rank k (1 the best) among λ gets
///
///     uₖ = max(0, ln(λ/2 + 1) − ln k) / Σⱼ max(0, ln(λ/2 + 1) − ln j) − 1/λ
///
/// so they sum to 0, only the better half pulls, and the scale of the rewards does not matter.
/// Samples that tie share the mean utility of the ranks they span.
///
///     rankUtilities([3, 1, 2, 0])   // rewards, higher better: [0.4804, -0.25, 0.0196, -0.25]
func rankUtilities(_ rewards: [Double]) -> [Double] {
    let n = rewards.count
    guard n > 1 else { return [Double](repeating: 0, count: n) }
    let lambda = Double(n)
    let raw = (1...n).map { k in Swift.max(0, Foundation.log(lambda / 2 + 1) - Foundation.log(Double(k))) }
    let total = raw.reduce(0, +)
    let byRank = raw.map { $0 / total - 1 / lambda }
    let order = rewards.indices.sorted { rewards[$0] != rewards[$1] ? rewards[$0] > rewards[$1] : $0 < $1 }
    var utilities = [Double](repeating: 0, count: n)
    var start = 0
    while start < n {
        var end = start
        while end + 1 < n, rewards[order[end + 1]] == rewards[order[start]] { end += 1 }
        let shared = byRank[start...end].reduce(0, +) / Double(end - start + 1)
        for r in start...end { utilities[order[r]] = shared }
        start = end + 1
    }
    return utilities
}
