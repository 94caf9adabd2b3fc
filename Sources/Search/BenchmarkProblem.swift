import Engine
import Foundation

/// Analytic multi-objective test problems with known Pareto fronts, for judging strategies:
/// ZDT1–4 and ZDT6 (Zitzler, Deb & Thiele 2000) and DTLZ1–7 (Deb, Thiele, Laumanns & Zitzler
/// 2002). Every objective is minimised.
///
///     let zdt1 = try BenchmarkProblem(name: "zdt1", variables: 30)
///     zdt1.evaluate([Double](repeating: 0, count: 30))   // [0, 1]
public struct BenchmarkProblem: Equatable, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case zdt1, zdt2, zdt3, zdt4, zdt6, dtlz1, dtlz2, dtlz3, dtlz4, dtlz5, dtlz6, dtlz7
    }

    public let kind: Kind
    public let variables: Int
    public let objectives: Int

    /// - Parameters:
    ///   - name: one of `Kind`'s names.
    ///   - variables: decision variables (ZDT: ≥ 2; DTLZ: ≥ objectives).
    ///   - objectives: ZDT always has 2; DTLZ takes M ≥ 2 (default 3).
    public init(name: String, variables: Int, objectives: Int? = nil) throws {
        guard let kind = Kind(rawValue: name) else {
            throw ConfigError.unknownName(name, kind: "benchmark problem", among: Kind.allCases.map(\.rawValue), keyPath: "evaluator.benchmark.problem")
        }
        let isZDT = name.hasPrefix("zdt")
        let m = isZDT ? 2 : (objectives ?? 3)
        if isZDT, let o = objectives, o != 2 {
            throw ConfigError(keyPath: "evaluator.benchmark.objectives", reason: "\(name) has 2 objectives, got \(o)")
        }
        if m < 2 { throw ConfigError(keyPath: "evaluator.benchmark.objectives", reason: "must be ≥ 2, got \(m)") }
        if variables < (isZDT ? 2 : m) {
            throw ConfigError(keyPath: "evaluator.benchmark.variables", reason: "\(name) needs at least \(isZDT ? 2 : m) variables, got \(variables)")
        }
        self.kind = kind
        self.variables = variables
        self.objectives = m
    }

    /// The hypervolume reference point: 1.1 × the front's nadir bound in every objective — 1 for
    /// the ZDT and DTLZ1–6 fronts (DTLZ1's nadir is 0.5, within it), and for DTLZ7 1 in
    /// f₁…f_{M−1} and 2M in f_M, since its front's last objective is (1 + g)·h with g = 1 and h
    /// up to M (Deb et al. 2002).
    public var referencePoint: [Double] {
        (0..<objectives).map { m in kind == .dtlz7 && m == objectives - 1 ? 1.1 * 2 * Double(objectives) : 1.1 }
    }

    /// Bounds of variable `i`: [0, 1], except ZDT4's x₂…xₙ in [−5, 5].
    public func bounds(_ i: Int) -> ClosedRange<Double> { kind == .zdt4 && i > 0 ? -5...5 : 0...1 }

    /// The objective vector at unit coordinates `u` (one per variable, in [0, 1]), each mapped
    /// linearly onto its variable's `bounds`: how a study and the search benchmark both evaluate.
    public func evaluate(unit u: [Double]) -> [Double] {
        evaluate(u.enumerated().map { i, v in let b = bounds(i); return b.lowerBound + v * (b.upperBound - b.lowerBound) })
    }

    /// The objective vector at `x` (`variables` values within `bounds`).
    public func evaluate(_ x: [Double]) -> [Double] {
        precondition(x.count == variables, "\(kind.rawValue) takes \(variables) variables, got \(x.count)")
        switch kind {
        case .zdt1, .zdt2, .zdt3, .zdt4, .zdt6: return zdt(x)
        default: return dtlz(x)
        }
    }

    private func zdt(_ x: [Double]) -> [Double] {
        let rest = x.dropFirst()
        let n = Double(variables)
        let f1: Double, g: Double
        switch kind {
        case .zdt4:
            f1 = x[0]
            g = 1 + 10 * (n - 1) + rest.reduce(0) { $0 + $1 * $1 - 10 * cos(4 * .pi * $1) }
        case .zdt6:
            f1 = 1 - exp(-4 * x[0]) * pow(sin(6 * .pi * x[0]), 6)
            g = 1 + 9 * pow(rest.reduce(0, +) / (n - 1), 0.25)
        default:
            f1 = x[0]
            g = 1 + 9 * rest.reduce(0, +) / (n - 1)
        }
        let r = f1 / g
        let h: Double
        switch kind {
        case .zdt2, .zdt6: h = 1 - r * r
        case .zdt3: h = 1 - r.squareRoot() - r * sin(10 * .pi * f1)
        default: h = 1 - r.squareRoot()
        }
        return [f1, g * h]
    }

    private func dtlz(_ x: [Double]) -> [Double] {
        let m = objectives
        let k = variables - m + 1
        let xm = x[(m - 1)...]                                   // the "distance" variables
        func rastrigin() -> Double {
            100 * (Double(k) + xm.reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) - cos(20 * .pi * ($1 - 0.5)) })
        }
        let sphere = xm.reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) }
        switch kind {
        case .dtlz1:
            let g = rastrigin()
            return (0..<m).map { i in
                var f = 0.5 * (1 + g)
                for j in 0..<(m - 1 - i) { f *= x[j] }
                if i > 0 { f *= 1 - x[m - 1 - i] }
                return f
            }
        case .dtlz2, .dtlz3, .dtlz4:
            let g = kind == .dtlz3 ? rastrigin() : sphere
            let angles = x.prefix(m - 1).map { (kind == .dtlz4 ? pow($0, 100) : $0) * .pi / 2 }
            return spherical(angles, radius: 1 + g)
        case .dtlz5, .dtlz6:
            let g = kind == .dtlz6 ? xm.reduce(0) { $0 + pow($1, 0.1) } : sphere
            let angles = x.prefix(m - 1).enumerated().map { j, v in
                j == 0 ? v * .pi / 2 : .pi / (4 * (1 + g)) * (1 + 2 * g * v)
            }
            return spherical(angles, radius: 1 + g)
        case .dtlz7:
            let g = 1 + 9 / Double(k) * xm.reduce(0, +)
            let f = Array(x.prefix(m - 1))
            let h = Double(m) - f.reduce(0) { $0 + $1 / (1 + g) * (1 + sin(3 * .pi * $1)) }
            return f + [(1 + g) * h]
        default:
            preconditionFailure("not a DTLZ problem")
        }
    }

    /// fᵢ = r · Π_{j < M−i} cos θⱼ · (i > 0 ? sin θ_{M−1−i} : 1), the DTLZ2 family's mapping.
    private func spherical(_ angles: [Double], radius: Double) -> [Double] {
        let m = objectives
        return (0..<m).map { i in
            var f = radius
            for j in 0..<(m - 1 - i) { f *= cos(angles[j]) }
            if i > 0 { f *= sin(angles[m - 1 - i]) }
            return f
        }
    }
}
