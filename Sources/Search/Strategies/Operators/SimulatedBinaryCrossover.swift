import Engine
import Foundation

/// Simulated binary crossover (SBX) for one real variable, in the bounded form that keeps both
/// children inside [low, high] (Deb & Agrawal 1995; the bounded spread factor as in Deb et al.
/// 2002's reference code).
///
/// The children spread around the parents' mean by a factor β drawn from a polynomial density with
/// distribution index η: large η keeps children close to their parents.
///
///     let sbx = SimulatedBinaryCrossover(eta: 15)
///     sbx.children(0.2, 0.6, u: 0.5)   // (0.2, 0.6): u = 0.5 is the median spread
public struct SimulatedBinaryCrossover: Hashable, Sendable {
    /// Distribution index η_c.
    public var eta: Double
    /// Probability that a variable is crossed at all (else the children copy their parents).
    public var variableProbability: Double

    public init(eta: Double = 15, variableProbability: Double = 0.5) {
        self.eta = eta; self.variableProbability = variableProbability
    }

    /// The two children of parents `x1` and `x2` for the uniform random number `u`, the first
    /// on the side of the smaller parent.
    ///
    /// With y1 ≤ y2, for each side the bound limits the spread: β = 1 + 2·(y1 − low)/(y2 − y1)
    /// (or 1 + 2·(high − y2)/(y2 − y1)), α = 2 − β^−(η+1), and
    /// β_q = (u·α)^(1/(η+1)) if u ≤ 1/α, else (1/(2 − u·α))^(1/(η+1));
    /// the children are ½·((y1 + y2) ∓ β_q·(y2 − y1)), clamped to the bounds.
    public func children(_ x1: Double, _ x2: Double, u: Double, low: Double = 0, high: Double = 1) -> (Double, Double) {
        let y1 = min(x1, x2), y2 = max(x1, x2)
        let gap = y2 - y1
        guard gap > 1e-14 else { return (y1, y2) }
        let exponent = 1 / (eta + 1)
        func spread(_ beta: Double) -> Double {
            let alpha = 2 - pow(beta, -(eta + 1))
            return u <= 1 / alpha ? pow(u * alpha, exponent) : pow(1 / (2 - u * alpha), exponent)
        }
        let lowSpread = spread(1 + 2 * (y1 - low) / gap)
        let highSpread = spread(1 + 2 * (high - y2) / gap)
        let c1 = 0.5 * ((y1 + y2) - lowSpread * gap)
        let c2 = 0.5 * ((y1 + y2) + highSpread * gap)
        return (min(max(c1, low), high), min(max(c2, low), high))
    }

    /// Cross one variable in [0, 1]: with `variableProbability` the SBX children (in random
    /// order), else the parents unchanged.
    public func cross(_ x1: Double, _ x2: Double, using rng: inout RandomSource) -> (Double, Double) {
        guard rng.nextDouble() < variableProbability else { return (x1, x2) }
        let (c1, c2) = children(x1, x2, u: rng.nextDouble())
        return rng.nextDouble() < 0.5 ? (c2, c1) : (c1, c2)
    }
}
