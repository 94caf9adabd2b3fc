import Foundation
import Hardware

/// Fits a profile's efficiency factors to measurements by least squares.
///
///     let fitted = EfficiencyFit.leastSquares(profile.efficiency, factors: [.matmul, .matmulHalfIntensity]) { e in
///         runs.map { run in (predicted(run, e) - run.measured) / run.measured }
///     }
///
/// The objective is Σ rᵢ², the sum of squared relative errors the `residuals` closure returns.
/// It is minimised by the Nelder–Mead simplex method (Nelder & Mead 1965, with the standard
/// coefficients: reflection 1, expansion 2, contraction ½, shrink ½; Lagarias et al. 1998 state
/// them) because the prediction is piecewise — a roofline takes the slower of compute and memory,
/// a plan the faster micro-batch — so it has no useful derivative everywhere. Each factor is
/// searched in an unbounded coordinate: a fraction f ∈ (0, 1] as logit(f), the half intensity
/// I > 0 as log(I). The search is deterministic: the same measurements give the same factors.
public enum EfficiencyFit {
    /// A factor of `HardwareProfile.Efficiency` a fit may move, by its key in a profile file.
    public enum Factor: String, CaseIterable, Codable, Sendable {
        case matmul
        case matmulHalfIntensity = "matmul_half_intensity"
        case vector, memory, network
    }

    /// The result: the factors, the objective Σ rᵢ² they reach, and how many evaluations it took.
    public struct Result: Sendable {
        public var efficiency: HardwareProfile.Efficiency
        public var sumOfSquares: Double
        public var evaluations: Int
    }

    /// Minimise Σ rᵢ² over `factors`, starting from `start` (the factors not listed stay as they are).
    /// - Parameters:
    ///   - start: the factors to start from.
    ///   - factors: those the fit may move.
    ///   - maxEvaluations: a bound on the calls of `residuals`.
    ///   - residuals: the relative errors of the predictions under a set of factors.
    public static func leastSquares(_ start: HardwareProfile.Efficiency, factors: [Factor], maxEvaluations: Int = 400,
                                    residuals: (HardwareProfile.Efficiency) throws -> [Double]) rethrows -> Result {
        var evaluations = 0
        func objective(_ x: [Double]) throws -> Double {
            evaluations += 1
            let r = try residuals(efficiency(start, factors, x))
            let s = r.reduce(0) { $0 + $1 * $1 }
            return s.isFinite ? s : .greatestFiniteMagnitude
        }
        let x0 = factors.map { coordinate(start, $0) }
        guard !factors.isEmpty else {
            return Result(efficiency: start, sumOfSquares: try objective([]), evaluations: evaluations)
        }
        let n = x0.count
        // First steps: ±0.5 in logit (a fraction moves by about an eighth), ×e in intensity.
        var simplex = [x0] + (0..<n).map { i -> [Double] in var x = x0; x[i] += factors[i] == .matmulHalfIntensity ? 1 : 0.5; return x }
        var values = try simplex.map(objective)
        while evaluations < maxEvaluations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }; values = order.map { values[$0] }
            if values[n] - values[0] <= 1e-12 * max(values[0], 1e-12) { break }
            let spread = (1...n).map { i in zip(simplex[i], simplex[0]).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
            if spread < 1e-6 { break }
            let centroid = (0..<n).map { j in simplex[0..<n].reduce(0) { $0 + $1[j] } / Double(n) }
            func toward(_ t: Double) -> [Double] { zip(centroid, simplex[n]).map { c, w in c + t * (c - w) } }
            let reflected = toward(1), fr = try objective(reflected)
            if fr < values[0] {
                let expanded = toward(2), fe = try objective(expanded)
                (simplex[n], values[n]) = fe < fr ? (expanded, fe) : (reflected, fr)
            } else if fr < values[n - 1] {
                (simplex[n], values[n]) = (reflected, fr)
            } else {
                let contracted = fr < values[n] ? toward(0.5) : toward(-0.5)
                let fc = try objective(contracted)
                if fc < min(fr, values[n]) {
                    (simplex[n], values[n]) = (contracted, fc)
                } else {
                    for i in 1...n {
                        simplex[i] = zip(simplex[0], simplex[i]).map { b, x in b + 0.5 * (x - b) }
                        values[i] = try objective(simplex[i])
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return Result(efficiency: efficiency(start, factors, simplex[best]), sumOfSquares: values[best], evaluations: evaluations)
    }

    /// The factor's value in `e`.
    public static func value(_ e: HardwareProfile.Efficiency, _ factor: Factor) -> Double {
        switch factor {
        case .matmul: return e.matmul
        case .matmulHalfIntensity: return e.matmulHalfIntensity
        case .vector: return e.vector
        case .memory: return e.memory
        case .network: return e.network
        }
    }

    /// The unbounded coordinate the search moves a factor in.
    static func coordinate(_ e: HardwareProfile.Efficiency, _ factor: Factor) -> Double {
        let v = value(e, factor)
        // A shape-independent start (0) starts the search at 32 FLOP/B, where the form bites on
        // attention's products (intensity ≈ the head size) but barely on large ones.
        if factor == .matmulHalfIntensity { return log(v > 0 ? v : 32) }
        let f = min(max(v, 1e-6), 1 - 1e-9)
        return log(f / (1 - f))
    }

    /// `start` with `factors` set from the coordinates `x`.
    static func efficiency(_ start: HardwareProfile.Efficiency, _ factors: [Factor], _ x: [Double]) -> HardwareProfile.Efficiency {
        var e = start
        for (factor, u) in zip(factors, x) {
            let fraction = 1 / (1 + exp(-u))
            switch factor {
            case .matmul: e.matmul = fraction
            case .matmulHalfIntensity: e.matmulHalfIntensity = exp(u)
            case .vector: e.vector = fraction
            case .memory: e.memory = fraction
            case .network: e.network = fraction
            }
        }
        return e
    }
}
