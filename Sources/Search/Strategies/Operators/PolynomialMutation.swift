import Engine
import Foundation

/// Polynomial mutation for one real variable, in the bounded form whose perturbation shrinks near
/// a bound so the result stays inside [low, high] (Deb & Goyal 1996; the bounded variant as in
/// Deb et al. 2002's reference code).
///
///     let pm = PolynomialMutation(eta: 20)
///     pm.mutated(0.5, u: 0.5)   // 0.5: u = 0.5 is no move
public struct PolynomialMutation: Hashable, Sendable {
    /// Distribution index η_m: large η keeps the mutant close to the original.
    public var eta: Double
    /// Probability that a variable mutates.
    public var probability: Double

    public init(eta: Double = 20, probability: Double) {
        self.eta = eta; self.probability = probability
    }

    /// `x` mutated with the uniform random number `u`.
    ///
    /// With δ1 = (x − low)/(high − low), δ2 = (high − x)/(high − low) and p = 1/(η + 1):
    /// for u ≤ ½, δ_q = (2u + (1 − 2u)·(1 − δ1)^(η+1))^p − 1;
    /// else δ_q = 1 − (2(1 − u) + 2(u − ½)·(1 − δ2)^(η+1))^p;
    /// the mutant is x + δ_q·(high − low), clamped to the bounds.
    public func mutated(_ x: Double, u: Double, low: Double = 0, high: Double = 1) -> Double {
        let range = high - low
        guard range > 0 else { return x }
        let delta1 = (x - low) / range, delta2 = (high - x) / range
        let power = 1 / (eta + 1)
        let deltaQ: Double
        if u <= 0.5 {
            deltaQ = pow(2 * u + (1 - 2 * u) * pow(1 - delta1, eta + 1), power) - 1
        } else {
            deltaQ = 1 - pow(2 * (1 - u) + 2 * (u - 0.5) * pow(1 - delta2, eta + 1), power)
        }
        return min(max(x + deltaQ * range, low), high)
    }

    /// Mutate one variable in [0, 1] with `probability`; nil when it was left alone.
    public func mutate(_ x: Double, using rng: inout RandomSource) -> Double? {
        guard rng.nextDouble() < probability else { return nil }
        return mutated(x, u: rng.nextDouble())
    }
}
