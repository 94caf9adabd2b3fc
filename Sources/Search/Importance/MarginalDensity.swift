import Foundation

/// A one-parameter Parzen estimator held as a probability mass on a fixed set of points: the
/// marginal density PED-ANOVA compares between the top trials and all trials of a region.
///
/// A numeric parameter lives in unit coordinates (`Domain.unit(of:)`: linear for a uniform
/// prior, logarithmic for a log-uniform one, the prior's CDF for a normal one) and its points are
/// a grid over [0, 1] — or, for a domain with few values (an integer range, a quantised real),
/// exactly those values. Each observation contributes a Gaussian kernel normalised over the
/// points, so an observation at the edge of the domain weighs as much as one in the middle (the
/// kernel is truncated to the domain, not cut). A categorical parameter with K options uses the
/// Aitchison–Aitken kernel: 1 − b on the observed option, b / (K − 1) on each other one.
///
/// The bandwidth is given, not chosen here: PED-ANOVA compares two estimators built with one
/// bandwidth, so that every kernel of the top set's estimator is also one of the region's and
/// their ratio stays bounded (see `PEDANOVA`).
///
///     let grid = MarginalDensity.Support.numeric(points: [0.125, 0.375, 0.625, 0.875], minimumBandwidth: 0.125)
///     let x = [0.125, 0.125, 0.375]
///     let p = MarginalDensity(grid, observations: x, bandwidth: grid.bandwidth(for: x))
///     p.mass   // four masses summing to 1, most on the first point
struct MarginalDensity {
    /// Where the density is held.
    enum Support: Equatable {
        /// Unit coordinates, ascending; kernels never narrower than `minimumBandwidth`.
        case numeric(points: [Double], minimumBandwidth: Double)
        /// Option indices 0..<options.
        case categorical(options: Int)

        var count: Int {
            switch self {
            case .numeric(let points, _): return points.count
            case .categorical(let k): return k
            }
        }

        /// The bandwidth the rules below give `observations` (at least one).
        func bandwidth(for observations: [Double]) -> Double {
            switch self {
            case .numeric(_, let minimum): return MarginalDensity.numericBandwidth(observations, minimum: minimum)
            case .categorical(let k): return MarginalDensity.categoricalBandwidth(options: k, observations: observations.count)
            }
        }
    }

    /// Probability mass at each point of the support; sums to 1.
    let mass: [Double]

    /// The estimator of `observations` (unit coordinates, or option indices; ascending) on
    /// `support`, with kernel width `bandwidth` (σ of the numeric kernel, b of the categorical one).
    /// - Precondition: at least one observation.
    init(_ support: Support, observations: [Double], bandwidth: Double) {
        precondition(!observations.isEmpty, "a Parzen estimator needs an observation")
        let n = Double(observations.count)
        switch support {
        case .categorical(let k):
            var counts = [Double](repeating: 0, count: k)
            for x in observations { counts[Swift.min(Swift.max(Int(x), 0), k - 1)] += 1 }
            let b = k > 1 ? bandwidth : 0
            let other = k > 1 ? b / Double(k - 1) : 0
            mass = counts.map { c in ((1 - b) * c + other * (n - c)) / n }
        case .numeric(let points, _):
            let sigma = bandwidth
            var total = [Double](repeating: 0, count: points.count)
            var kernel = [Double](repeating: 0, count: points.count)
            let inverse = 1 / sigma
            for (centre, weight) in Self.merged(observations) {
                var sum = 0.0
                for j in points.indices {
                    let z = (points[j] - centre) * inverse
                    // Beyond 8σ a term is below 1e-14 of the peak: skip the exponential.
                    kernel[j] = z * z < 64 ? Foundation.exp(-0.5 * z * z) : 0
                    sum += kernel[j]
                }
                guard sum > 0 else { continue }
                let scale = weight / (sum * n)
                for j in points.indices { total[j] += kernel[j] * scale }
            }
            mass = total
        }
    }

    /// Scott's rule in one dimension (Scott 1992, "Multivariate Density Estimation", eq. 6.42):
    /// σ = 1.06 · s · n^(−1/5), s the observations' standard deviation, and never below `minimum`
    /// (all observations equal leaves s = 0).
    static func numericBandwidth(_ x: [Double], minimum: Double) -> Double {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Swift.max(n - 1, 1)
        return Swift.max(1.06 * variance.squareRoot() * Foundation.pow(n, -0.2), minimum)
    }

    /// The categorical kernel's b: (K − 1)/K · n^(−1/5) / 2, the one-dimensional case of the
    /// rule the TPE's Parzen estimator uses, so few observations smooth towards uniform.
    static func categoricalBandwidth(options k: Int, observations n: Int) -> Double {
        Double(k - 1) / Double(k) * Foundation.pow(Double(n), -0.2) / 2
    }

    /// Ascending observations as (centre, count): equal values merged, and values in one 1/1024
    /// of the unit interval merged into their mean — the mean keeps each kernel's centre of mass
    /// where its observations are, the spread it drops is below 1/1024, a fifth of the narrowest
    /// bandwidth; and there are at most 1,024 kernels to evaluate whatever the number of trials.
    static func merged(_ x: [Double]) -> [(centre: Double, weight: Double)] {
        var out: [(centre: Double, weight: Double)] = []
        var cell = Int.min, sum = 0.0, count = 0.0
        for v in x {
            let c = Int((v * 1024).rounded(.down))
            if c != cell, count > 0 {
                out.append((sum / count, count)); sum = 0; count = 0
            }
            cell = c; sum += v; count += 1
        }
        if count > 0 { out.append((sum / count, count)) }
        return out
    }

    /// The Pearson divergence D_PE(p ‖ q) = Σ q (p/q − 1)² = Σ p²/q − 1 of `self` (p) from `base`
    /// (q), over their common support. A point q gives no mass to contributes nothing (p has
    /// none there either when p's observations are among q's and share its bandwidth).
    func pearsonDivergence(from base: MarginalDensity) -> Double {
        precondition(mass.count == base.mass.count, "densities on different supports")
        var sum = 0.0
        for j in mass.indices where base.mass[j] > 1e-300 {
            sum += mass[j] * mass[j] / base.mass[j]
        }
        return Swift.max(sum - 1, 0)
    }
}
