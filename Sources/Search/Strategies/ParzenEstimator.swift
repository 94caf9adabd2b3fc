import Foundation
import Engine

/// A multivariate Parzen estimator over a group of search dimensions: an equally weighted mixture
/// of product kernels, one centred on each observation, plus one prior component (Bergstra et al.
/// 2011, "Algorithms for Hyper-Parameter Optimization"; the multivariate form and the prior
/// component as Watanabe 2023, "Tree-structured Parzen Estimator: Understanding Its Algorithm
/// Components and Why They Matter", §3, recommends).
///
/// A numeric dimension lives in the unit interval (`Domain.unit(of:)`, so the prior is uniform
/// there) and its kernel is a normal truncated to [0, 1]; the prior component is uniform. A
/// categorical dimension with K options uses the Aitchison–Aitken kernel: 1 − b on the observed
/// option, b / (K − 1) on each other one; the prior component is 1 / K.
///
///     let kde = ParzenEstimator(kinds: [.numeric], centres: [[0.2], [0.4]], bandwidths: [0.1], priorWeight: 1)
///     kde.logDensity([0.3])   // log((2·k(0.3 | 0.2) + 1) / 3) with k the truncated normal
struct ParzenEstimator {
    enum Kind: Hashable { case numeric, categorical(options: Int) }

    let kinds: [Kind]
    /// (components, dimensions): unit coordinates for numeric dimensions, option indices for
    /// categorical ones. The prior component is not stored here.
    let centres: [[Double]]
    /// Per dimension: σ of the normal kernel (numeric) or the mass b moved off the observed option
    /// (categorical).
    let bandwidths: [Double]
    /// Weight of the prior component.
    let priorWeight: Double
    /// Weight of each observation's component (nil: 1 each).
    let weights: [Double]?
    /// Σ weights of the observations and the prior.
    private let totalWeight: Double
    /// Running sums of the observations' weights, to pick a component by weight (weighted only).
    private let cumulativeWeights: [Double]
    /// Per component: the sum over its dimensions of the log-density's terms that do not depend
    /// on x — for a numeric kernel −log σ − log √(2π) − log of its truncation mass
    /// Φ((1 − μ)/σ) − Φ(−μ/σ) — so a density costs one pass of squares and no error function.
    private let constants: [Double]
    /// 1/σ per dimension (0 for categorical ones).
    private let inverseBandwidths: [Double]
    /// Categorical dimensions: log(1 − b) and log(b / (K − 1)); unused for numeric ones.
    private let logSame: [Double], logOther: [Double]
    /// The prior component's log-density plus the log of its weight.
    private let logPrior: Double

    /// - Parameter weights: the weight of each observation's component (nil for 1 each), > 0.
    init(kinds: [Kind], centres: [[Double]], bandwidths: [Double], priorWeight: Double, weights: [Double]? = nil) {
        precondition(bandwidths.count == kinds.count, "\(bandwidths.count) bandwidths for \(kinds.count) dimensions")
        precondition(priorWeight > 0 || !centres.isEmpty, "a Parzen estimator needs an observation or a prior")
        precondition(weights.map { $0.count == centres.count } ?? true, "\(weights?.count ?? 0) weights for \(centres.count) observations")
        self.kinds = kinds; self.centres = centres; self.bandwidths = bandwidths; self.priorWeight = priorWeight
        self.weights = weights
        var running = 0.0
        cumulativeWeights = weights.map { w in w.map { running += $0; return running } } ?? []
        totalWeight = (weights.map { _ in running } ?? Double(centres.count)) + priorWeight
        var inverse = [Double](repeating: 0, count: kinds.count)
        var same = [Double](repeating: 0, count: kinds.count), other = same
        var shared = 0.0, prior = priorWeight > 0 ? Foundation.log(priorWeight) : -Double.infinity
        for d in kinds.indices {
            switch kinds[d] {
            case .numeric:
                inverse[d] = 1 / bandwidths[d]
                shared -= Foundation.log(bandwidths[d]) + ParzenEstimator.logRootTwoPi
            case .categorical(let k):
                same[d] = Foundation.log(1 - bandwidths[d])
                other[d] = k > 1 ? Foundation.log(bandwidths[d] / Double(k - 1)) : -Double.infinity
                prior -= Foundation.log(Double(k))
            }
        }
        inverseBandwidths = inverse; logSame = same; logOther = other; logPrior = prior
        constants = centres.indices.map { i in
            let c = centres[i]
            var total = shared + (weights.map { Foundation.log($0[i]) } ?? 0)
            for d in kinds.indices {
                guard case .numeric = kinds[d] else { continue }
                let s = bandwidths[d]
                total -= Foundation.log(Swift.max(normalCDF((1 - c[d]) / s) - normalCDF(-c[d] / s), 1e-300))
            }
            return total
        }
    }

    /// The bandwidths for `centres` (Scott's rule in the unit cube, Scott 1992): σ = s · n^(−1/(d+4))
    /// per numeric dimension, where s² blends the observations' variance with the prior's (1/12)
    /// as if the prior were one more observation, and never below `minimum`; for a categorical
    /// dimension b = (K − 1)/K · n^(−1/(d+4)) / 2, so few observations smooth towards uniform.
    ///
    /// A dimension in `clipped` — in TPE, a numeric dimension with finitely many values — is also
    /// kept at or above the "magic clip" of Bergstra et al.'s hyperopt, 1/min(100, n + 2) of the
    /// range with the prior as one more kernel (`magicClip`): on a grid of levels a kernel
    /// narrower than the spacing puts its mass on the observed level alone, and l/g cannot rank
    /// the levels next to a good one.
    static func bandwidths(kinds: [Kind], centres: [[Double]], minimum: Double = 0.01, clipped: Set<Int> = []) -> [Double] {
        let clip = Swift.max(minimum, magicClip(observations: centres.count))
        let n = Double(Swift.max(centres.count, 1))
        let factor = Foundation.pow(n, -1 / Double(kinds.count + 4))
        return kinds.indices.map { d in
            switch kinds[d] {
            case .numeric:
                let mean = centres.reduce(0) { $0 + $1[d] } / n
                let squares = centres.reduce(0) { $0 + ($1[d] - mean) * ($1[d] - mean) }
                let s = ((squares + 1.0 / 12) / (Double(centres.count) + 1)).squareRoot()
                return Swift.max(s * factor, clipped.contains(d) ? clip : minimum)
            case .categorical(let k):
                return Double(k - 1) / Double(k) * factor / 2
            }
        }
    }

    /// The magic clip for `observations` kernels and the prior: 1/min(100, n + 2).
    static func magicClip(observations n: Int) -> Double { 1 / Swift.min(100, Double(n) + 2) }

    /// log p(x), x in the estimator's coordinates.
    func logDensity(_ x: [Double]) -> Double {
        let total = totalWeight
        // log Σ exp(tᵢ) in one pass, rescaling the running sum when a larger term arrives.
        var maximum = -Double.infinity, sum = 0.0
        func add(_ t: Double) {
            if t <= maximum { sum += Foundation.exp(t - maximum) }
            else { sum = sum * Foundation.exp(maximum - t) + 1; maximum = t }
        }
        for (i, c) in centres.enumerated() {
            var squares = 0.0, log = constants[i]
            for d in kinds.indices {
                let w = inverseBandwidths[d]
                if w > 0 {
                    let z = (x[d] - c[d]) * w
                    squares += z * z
                } else {
                    log += Int(x[d]) == Int(c[d]) ? logSame[d] : logOther[d]
                }
            }
            add(log - 0.5 * squares)
        }
        if priorWeight > 0 { add(logPrior) }
        guard maximum > -.infinity else { return -.infinity }
        return maximum + Foundation.log(sum) - Foundation.log(total)
    }

    /// A draw from the mixture: a component by weight, then each dimension from its kernel.
    func sample(using rng: inout RandomSource) -> [Double] {
        let pick = rng.nextDouble() * totalWeight
        guard pick < totalWeight - priorWeight else {
            return kinds.map { kind in
                switch kind {
                case .numeric: return rng.nextDouble()
                case .categorical(let k): return Double(rng.nextInt(below: k))
                }
            }
        }
        let c = centres[component(at: pick)]
        return kinds.indices.map { d in
            switch kinds[d] {
            case .numeric:
                // Inverse CDF of the normal truncated to [0, 1].
                let s = bandwidths[d]
                let low = normalCDF(-c[d] / s), high = normalCDF((1 - c[d]) / s)
                let p = low + rng.nextDouble() * (high - low)
                let x = c[d] + s * inverseNormalCDF(Swift.min(Swift.max(p, 1e-12), 1 - 1e-12))
                return Swift.min(Swift.max(x, 0), 1)
            case .categorical(let k):
                let u = rng.nextDouble()
                guard k > 1, u < bandwidths[d] else { return c[d] }
                // One of the other options, uniformly.
                let other = rng.nextInt(below: k - 1)
                return Double(other >= Int(c[d]) ? other + 1 : other)
            }
        }
    }

    /// The component whose share of the observations' weight holds `pick`.
    private func component(at pick: Double) -> Int {
        guard !cumulativeWeights.isEmpty else { return Swift.min(Int(pick), centres.count - 1) }
        var lo = 0, hi = cumulativeWeights.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulativeWeights[mid] > pick { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    static let logRootTwoPi = 0.5 * Foundation.log(2 * Double.pi)
}

/// Φ(z), the standard normal CDF.
func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

/// log Σ exp(tᵢ), shifted by the maximum for stability (−∞ for no terms).
func logSumExp(_ terms: [Double]) -> Double {
    guard let m = terms.max(), m > -.infinity else { return -.infinity }
    var sum = 0.0
    for t in terms { sum += Foundation.exp(t - m) }
    return m + Foundation.log(sum)
}
