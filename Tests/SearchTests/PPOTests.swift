import XCTest
import Foundation
import Engine
@testable import Search

final class PPOTests: XCTestCase {
    /// The analytic gradient of the clipped surrogate matches central differences, inside the
    /// trust region (ratio near 1) and where the ratio is clipped (surrogate gradient zero, only
    /// the entropy term is left).
    func testClippedSurrogateGradientMatchesFiniteDifferences() {
        let z = [0.3, -1.2, 0.8, 0.1]
        let logp2 = logSoftmax(z)[2]
        // (old log-probability, advantage, β): ratio 1, ratio e^0.1 with A > 0 (inside), ratio
        // e^0.5 with A > 0 (clipped), ratio e^−0.5 with A < 0 (clipped), ratio e^0.5 with A < 0
        // (inside: the unclipped term is the minimum).
        let cases: [(Double, Double, Double)] = [(logp2, 0.7, 0), (logp2 - 0.1, 1.1, 0.05), (logp2 - 0.5, 0.9, 0.1),
                                                 (logp2 + 0.5, -0.8, 0.02), (logp2 - 0.5, -0.6, 0)]
        for (old, advantage, beta) in cases {
            func loss(_ z: [Double]) -> Double {
                clippedSurrogateLoss(logits: z, action: 2, oldLogProbability: old, advantage: advantage, clip: 0.2, entropyWeight: beta).loss
            }
            let g = clippedSurrogateLoss(logits: z, action: 2, oldLogProbability: old, advantage: advantage, clip: 0.2, entropyWeight: beta).gradient
            for k in z.indices {
                var plus = z, minus = z
                plus[k] += 1e-6; minus[k] -= 1e-6
                XCTAssertEqual(g[k], (loss(plus) - loss(minus)) / 2e-6, accuracy: 1e-7, "old \(old), A \(advantage), β \(beta), k \(k)")
            }
        }
        // Clipped with no entropy bonus: no gradient at all.
        let clipped = clippedSurrogateLoss(logits: z, action: 2, oldLogProbability: logp2 - 0.5, advantage: 1, clip: 0.2, entropyWeight: 0)
        XCTAssertEqual(clipped.gradient, [0, 0, 0, 0])
        XCTAssertEqual(clipped.loss, -1.2, accuracy: 1e-12, "the clipped ratio 1.2 times A = 1")
        // At ratio 1 the surrogate's gradient is REINFORCE's.
        XCTAssertEqual(clippedSurrogateLoss(logits: z, action: 1, oldLogProbability: logSoftmax(z)[1], advantage: 0.4, clip: 0.2, entropyWeight: 0.1).gradient,
                       reinforceLoss(logits: z, action: 1, advantage: 0.4, entropyWeight: 0.1).gradient)
    }

    func testAdvantagesAreNormalisedOverTheBatch() {
        let a = normalised([1, 2, 3, 6])
        XCTAssertEqual(a.reduce(0, +), 0, accuracy: 1e-12)
        XCTAssertEqual(a.reduce(0) { $0 + $1 * $1 } / 4, 1, accuracy: 1e-12)
        XCTAssertEqual(normalised([2, 2]), [0, 0])
    }

    /// PPO with its defaults learns the toy problem: three decisions of four options, the reward
    /// the number of decisions that took option 2.
    func testPPOLearnsToyProblem() throws {
        let dims = (0..<3).map { Dimension(name: "d\($0)", domain: .choice(options: (0..<4).map { .number(Double($0)) })) }
        let space = SearchSpace(dimensions: dims, template: .object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) }))
        let strategy = try ReinforceStrategy(space: space, objectives: 1, seed: 3)
        XCTAssertEqual(strategy.options.algorithm, .ppo)
        var late = 0
        for n in 0..<200 {
            let c = try strategy.ask(number: n)
            let hits = c.values.filter { $0 == 2 }.count
            if n >= 150 { late += hits }
            strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [-Double(hits)]))
        }
        let p = exp(try XCTUnwrap(strategy.logProbability(of: Configuration([2, 2, 2]))))
        XCTAssertGreaterThan(p, 0.3, "from 1/64 at the start")
        XCTAssertGreaterThan(Double(late) / 50, 2, "random picks average 0.75 hits")
    }

    func testPPOOptionsFromSpec() throws {
        let o = try ReinforceOptions(parsing: .object([("algorithm", .string("reinforce")), ("batch", .number(4)), ("epochs", .number(2)),
                                                       ("clip", .number(0.1)), ("entropy_half_life", .number(50))]), objectives: 1)
        XCTAssertEqual(o.algorithm, .reinforce)
        XCTAssertEqual([o.batch, o.epochs], [4, 2])
        XCTAssertEqual(o.entropyWeight(afterTrials: 50), o.entropyWeight / 2, accuracy: 1e-15)
        func reason(_ pairs: [(String, JSONValue)]) -> String {
            do { _ = try ReinforceOptions(parsing: .object(pairs), objectives: 1); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(reason([("algorithm", .string("ppo2"))]), "strategy.algorithm: unknown algorithm 'ppo2' (valid: ppo, reinforce). Did you mean 'ppo'?")
        XCTAssertEqual(reason([("clip", .number(1))]), "strategy.clip: must be in (0, 1), got 1")
        XCTAssertEqual(reason([("epochs", .number(0))]), "strategy.epochs: must be in 1...100, got 0")
    }
}
