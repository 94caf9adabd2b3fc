import XCTest
import Foundation
import Engine
@testable import Search

final class GaussianPolicyTests: XCTestCase {
    /// λ = 4: ln(3) − ln k for k = 1, 2 (0 for 3 and 4), over their sum 1.504077, minus 1/4: 0.480423 for the best.
    func testRankUtilitiesByHand() {
        let u = rankUtilities([3, 1, 2, 0])
        let total = log(3.0) + (log(3.0) - log(2.0))
        let expected = [log(3.0) / total - 0.25, -0.25, (log(3.0) - log(2.0)) / total - 0.25, -0.25]
        for (a, b) in zip(u, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(u[0], 0.480423, accuracy: 1e-6)
        XCTAssertEqual(u.reduce(0, +), 0, accuracy: 1e-12)
        // λ = 3 with the two best tied: they share the mean of ranks 1 and 2, (0.804163 + 0.195837)/2 − 1/3 = 1/6.
        let tied = rankUtilities([1, 1, 0])
        XCTAssertEqual(tied[0], 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(tied[1], 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(tied[2], -1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(rankUtilities([5]), [0])
    }

    /// ∂ log N / ∂μ and ∂ log N / ∂ log σ against central differences, an inactive dimension
    /// contributing nothing.
    func testLogDensityGradientMatchesFiniteDifferences() {
        let mean = [0.3, 0.6, 0.5], logDeviation = [log(0.2), log(0.05), log(0.4)]
        let x: [Double?] = [0.45, 0.52, nil]
        let g = GaussianPolicy(mean: mean, logDeviation: logDeviation).logDensityGradient(x)
        let h = 1e-6
        for d in 0..<3 {
            var up = mean, down = mean
            up[d] += h; down[d] -= h
            let dMean = (GaussianPolicy(mean: up, logDeviation: logDeviation).logDensity(x)
                - GaussianPolicy(mean: down, logDeviation: logDeviation).logDensity(x)) / (2 * h)
            XCTAssertEqual(g.mean[d], dMean, accuracy: 1e-5 * max(1, abs(dMean)), "μ of dimension \(d)")
            var upLog = logDeviation, downLog = logDeviation
            upLog[d] += h; downLog[d] -= h
            let dLog = (GaussianPolicy(mean: mean, logDeviation: upLog).logDensity(x)
                - GaussianPolicy(mean: mean, logDeviation: downLog).logDensity(x)) / (2 * h)
            XCTAssertEqual(g.logDeviation[d], dLog, accuracy: 1e-5 * max(1, abs(dLog)), "log σ of dimension \(d)")
        }
        XCTAssertEqual(g.mean[2], 0)
        XCTAssertEqual(g.logDeviation[2], 0)
        // log N(0.45 | 0.3, 0.2²): z = 0.75.
        XCTAssertEqual(GaussianPolicy(mean: [0.3], logDeviation: [log(0.2)]).logDensity([0.45]),
                       -0.5 * 0.75 * 0.75 - log(0.2) - 0.5 * log(2 * Double.pi), accuracy: 1e-12)
    }

    /// One SNES step worked by hand: μ moves by η_μ Σ u (x − μ), log σ by η_σ/2 Σ u (z² − 1).
    func testNaturalGradientStepByHand() {
        var symmetric = GaussianPolicy(dimensions: 1, deviation: 0.25)
        symmetric.update([[0.75], [0.25]], utilities: [1, -1], meanRate: 0.5, deviationRate: 0.2)
        XCTAssertEqual(symmetric.mean[0], 0.75, accuracy: 1e-12)          // 0.5 + 0.5·(0.25 + 0.25)
        XCTAssertEqual(symmetric.deviation[0], 0.25, accuracy: 1e-12)     // both samples at z² = 1
        var wide = GaussianPolicy(dimensions: 2, deviation: 0.25)
        // Dimension 0: z = 2 (utility ½) and z = 0 (−½); dimension 1 inactive in the second sample.
        wide.update([[1.0, 0.25], [0.5, nil]], utilities: [0.5, -0.5], meanRate: 1, deviationRate: 0.2)
        XCTAssertEqual(wide.mean[0], 0.75, accuracy: 1e-12)                // 0.5 + 0.5·0.5
        XCTAssertEqual(wide.deviation[0], 0.25 * exp(0.2 * 1.0), accuracy: 1e-12)   // ½·(4−1)/2 + (−½)·(0−1)/2 = 1
        XCTAssertEqual(wide.mean[1], 0.375, accuracy: 1e-12)               // 0.5 + 0.5·(−0.25)
        XCTAssertEqual(wide.deviation[1], 0.25, accuracy: 1e-12)           // z = −1: z² − 1 = 0
        // Samples at the mean shrink σ by e^(−η_σ/2 · Σu) but never below the dimension's floor.
        var floored = GaussianPolicy(dimensions: 1, deviation: 0.06, minimumDeviation: [0.05])
        floored.update([[0.5], [0.9]], utilities: [1, -1], meanRate: 1, deviationRate: 1)
        XCTAssertEqual(floored.deviation[0], 0.05, accuracy: 1e-12)
    }

    func testReflectionFoldsIntoTheUnitInterval() {
        XCTAssertEqual(GaussianPolicy.reflected(1.2), 0.8, accuracy: 1e-12)
        XCTAssertEqual(GaussianPolicy.reflected(-0.3), 0.3, accuracy: 1e-12)
        XCTAssertEqual(GaussianPolicy.reflected(2.5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(GaussianPolicy.reflected(0.4), 0.4)
        XCTAssertEqual(GaussianPolicy.defaultDeviationRate(dimensions: 1), 0.6, accuracy: 1e-12)
    }

    /// A batch is ordered feasible by value, then infeasible by violation, then failed; equal
    /// results get equal rewards.
    func testBatchRewardsOrderFeasibleInfeasibleAndFailed() {
        var ranked = RankedRewards(scalarization: .single, objectives: 1)
        func result(_ f: [Double], _ outcome: TrialOutcome = .complete, violation: Double = 0) -> TrialResult {
            TrialResult(number: 0, configuration: Configuration([0]), outcome: outcome, objectives: f, violation: violation)
        }
        let batch = [result([0.4]), result([0.9], .infeasible, violation: 2), result([], .failed), result([0.1]),
                     result([0.3], .infeasible, violation: 1), result([0.4])]
        for r in batch { _ = ranked.reward(for: r, weights: [1]) }
        XCTAssertEqual(ranked.batchRewards(batch, weights: [1]), [3, 1, 0, 4, 2, 3])
    }

    /// The Gaussian policy finds the bottom of a shifted sphere far better than its first draws.
    func testGaussianPolicyLearnsASphere() throws {
        let dims = (0..<3).map { Dimension(name: "x\($0)", domain: .real(.init(.uniform(low: -5, high: 5)))) }
        let space = SearchSpace(dimensions: dims, template: .object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) }))
        let strategy = try ReinforceStrategy(space: space, objectives: 1, seed: 4)
        XCTAssertEqual(strategy.gaussianIndex, [0, 1, 2])
        func f(_ c: Configuration) -> Double { c.values.reduce(0) { $0 + ($1 - 2) * ($1 - 2) } }
        var first = Double.infinity, best = Double.infinity
        for n in 0..<200 {
            let c = try strategy.ask(number: n)
            if n < 8 { first = min(first, f(c)) }
            best = min(best, f(c))
            strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [f(c)]))
        }
        XCTAssertLessThan(best, 0.05, "first batch's best \(first)")
        XCTAssertLessThan(strategy.gaussian.mean.map { abs($0 - 0.7) }.max()!, 0.05, "x = 2 is at 0.7 of [−5, 5]")
    }

    func testGaussianOptionsFromSpec() throws {
        let o = try ReinforceOptions(parsing: .object([("numeric", .string("bins")), ("deviation", .number(0.1)), ("mean_rate", .number(0.5)),
                                                       ("deviation_rate", .number(0.3)), ("elite", .number(0))]), objectives: 1)
        XCTAssertEqual(o.numeric, .bins)
        XCTAssertEqual([o.deviation, o.meanRate, o.deviationRate], [0.1, 0.5, 0.3])
        XCTAssertEqual(o.elite, 0)
        func reason(_ pairs: [(String, JSONValue)]) -> String {
            do { _ = try ReinforceOptions(parsing: .object(pairs), objectives: 1); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(reason([("numeric", .string("gaussain"))]),
                       "strategy.numeric: unknown numeric policy 'gaussain' (valid: gaussian, bins). Did you mean 'gaussian'?")
        XCTAssertEqual(reason([("deviation", .number(0))]), "strategy.deviation: must be in (0, 1], got 0")
        XCTAssertEqual(reason([("elite", .number(-1))]), "strategy.elite: must be in 0...1024, got -1")
        // With bins, the network decides every dimension.
        let dims = [Dimension(name: "x", domain: .real(.init(.uniform(low: 0, high: 1))))]
        let space = SearchSpace(dimensions: dims, template: .object([.init("x", .decision(index: 0, options: [], merged: []))]))
        XCTAssertEqual(try ReinforceStrategy(space: space, objectives: 1, options: o, seed: 1).decisionIndex, [0])
    }
}
