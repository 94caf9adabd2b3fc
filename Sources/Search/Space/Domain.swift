import Engine
import Foundation

/// The values one search dimension can take, and its prior.
///
/// Every domain maps to and from the unit interval: `value(atUnit:)` turns u ∈ [0, 1) into a value
/// and `unit(of:)` goes back. A uniform u gives a sample from the prior (a log-uniform value for
/// `loguniform`, a normal one through the inverse CDF for `normal`), so strategies can do all their
/// numeric work — sampling, crossover, mutation — in [0, 1]^d and never special-case a prior.
/// Quantised domains round as NNI does: `clip(round(x / q) · q, low, high)`.
public enum Domain: Hashable, Sendable {
    /// One of `options`; the value is the option's index.
    case choice(options: [JSONValue])
    /// An integer in `lower...upper` (both included; NNI's `randint [a, b)` becomes `a...b−1`).
    case integer(lower: Int, upper: Int)
    /// A real number with the given prior.
    case real(RealPrior)

    public struct RealPrior: Hashable, Sendable {
        public enum Shape: Hashable, Sendable {
            /// uniform on [low, high]; `log`: uniform in log space (low > 0).
            case uniform(low: Double, high: Double)
            /// normal(μ, σ); `log`: exp of it (lognormal).
            case normal(mean: Double, deviation: Double)
        }
        public var shape: Shape
        public var log: Bool
        /// Quantisation step, if any.
        public var q: Double?

        public init(_ shape: Shape, log: Bool = false, q: Double? = nil) {
            self.shape = shape; self.log = log; self.q = q
        }
    }

    /// Number of distinct values, if finite (choices, integers, quantised bounded reals).
    public var cardinality: Int? {
        switch self {
        case .choice(let options): return options.count
        case .integer(let lo, let hi): return hi - lo + 1
        case .real(let p):
            guard let q = p.q, case .uniform(let lo, let hi) = p.shape else { return nil }
            return gridValues(q: q, low: lo, high: hi).count
        }
    }

    /// Every value of a finite domain in increasing order (option indices for a choice).
    public var allValues: [Double]? {
        switch self {
        case .choice(let options): return options.indices.map(Double.init)
        case .integer(let lo, let hi): return (lo...hi).map(Double.init)
        case .real(let p):
            guard let q = p.q, case .uniform(let lo, let hi) = p.shape else { return nil }
            return gridValues(q: q, low: lo, high: hi)
        }
    }

    public var isCategorical: Bool { if case .choice = self { return true } else { return false } }

    /// The value at u ∈ [0, 1] (clamped to just inside the interval).
    public func value(atUnit u: Double) -> Double {
        let u = Swift.min(Swift.max(u, 0), 1)
        switch self {
        case .choice(let options):
            return Double(Swift.min(Int(u * Double(options.count)), options.count - 1))
        case .integer(let lo, let hi):
            let n = hi - lo + 1
            return Double(lo + Swift.min(Int(u * Double(n)), n - 1))
        case .real(let p):
            var x: Double
            switch p.shape {
            case .uniform(let lo, let hi):
                if p.log { x = Foundation.exp(Foundation.log(lo) + u * (Foundation.log(hi) - Foundation.log(lo))) }
                else { x = lo + u * (hi - lo) }
                x = Swift.min(Swift.max(x, lo), hi)
            case .normal(let mean, let deviation):
                let z = inverseNormalCDF(Swift.min(Swift.max(u, 1e-9), 1 - 1e-9))
                x = mean + deviation * z
                if p.log { x = Foundation.exp(x) }
            }
            if let q = p.q {
                x = quantized((x / q).rounded(), q)
                if case .uniform(let lo, let hi) = p.shape { x = Swift.min(Swift.max(x, lo), hi) }
            }
            return x
        }
    }

    /// The unit coordinate of `value`: the centre of its cell for discrete domains, so
    /// `value(atUnit: unit(of: v)) == v`.
    public func unit(of value: Double) -> Double {
        switch self {
        case .choice(let options):
            return (value + 0.5) / Double(options.count)
        case .integer(let lo, let hi):
            return (value - Double(lo) + 0.5) / Double(hi - lo + 1)
        case .real(let p):
            switch p.shape {
            case .uniform(let lo, let hi):
                guard hi > lo else { return 0.5 }
                let u = p.log ? (Foundation.log(value) - Foundation.log(lo)) / (Foundation.log(hi) - Foundation.log(lo))
                              : (value - lo) / (hi - lo)
                return Swift.min(Swift.max(u, 0), 1)
            case .normal(let mean, let deviation):
                let x = p.log ? Foundation.log(Swift.max(value, .leastNormalMagnitude)) : value
                return 0.5 * erfc(-(x - mean) / (deviation * 2.0.squareRoot()))
            }
        }
    }

    /// The value as it goes into a candidate: the option itself for a choice, a whole number for
    /// integers, the number for reals.
    public func json(_ value: Double) -> JSONValue {
        switch self {
        case .choice(let options):
            let i = Swift.min(Swift.max(Int(value), 0), options.count - 1)
            return options[i]
        case .integer, .real:
            return .number(value)
        }
    }

    /// Whether `value` is one this domain can produce (used when a trial is told from outside).
    public func contains(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        switch self {
        case .choice(let options): return value == value.rounded() && value >= 0 && Int(value) < options.count
        case .integer(let lo, let hi): return value == value.rounded() && value >= Double(lo) && value <= Double(hi)
        case .real(let p):
            if case .uniform(let lo, let hi) = p.shape, value < lo - 1e-12 || value > hi + 1e-12 { return false }
            if p.log, value <= 0 { return false }
            return true
        }
    }
}

/// The values `clip(round(x / q) · q, low, high)` takes for x in [low, high], ascending.
private func gridValues(q: Double, low: Double, high: Double) -> [Double] {
    let first = Int((low / q).rounded()), last = Int((high / q).rounded())
    var values: [Double] = []
    for k in first...max(first, last) {
        let x = min(max(quantized(Double(k), q), low), high)
        if values.last != x { values.append(x) }
    }
    return values
}

/// k · q, computed as k / (1/q) when 1/q is a whole number, so 3 steps of 0.1 give 0.3 and not
/// 0.30000000000000004.
func quantized(_ k: Double, _ q: Double) -> Double {
    let inverse = 1 / q
    let whole = inverse.rounded()
    return whole >= 1 && abs(inverse - whole) < 1e-9 * whole ? k / whole : k * q
}

/// Φ⁻¹ by Acklam's rational approximation refined with one Halley step (|error| < 1e-15).
func inverseNormalCDF(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    var x: Double
    if p < low {
        let q = (-2 * Foundation.log(p)).squareRoot()
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    } else if p <= 1 - low {
        let q = p - 0.5, r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    } else {
        let q = (-2 * Foundation.log(1 - p)).squareRoot()
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
    let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
    return x - u / (1 + x * u / 2)
}
