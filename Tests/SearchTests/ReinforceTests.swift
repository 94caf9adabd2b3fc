import XCTest
import Engine
@testable import Search

final class ReinforceTests: XCTestCase {
    /// A choice, an integer range, a log-uniform real and a quantised real.
    private let mixedSpace: SearchSpace = {
        let dims = [
            Dimension(name: "family", domain: .choice(options: [.string("mlp"), .string("cnn"), .string("vit")])),
            Dimension(name: "depth", domain: .integer(lower: 1, upper: 40)),
            Dimension(name: "lr", domain: .real(.init(.uniform(low: 1e-5, high: 1e-1), log: true))),
            Dimension(name: "dropout", domain: .real(.init(.uniform(low: 0, high: 0.5), q: 0.1))),
        ]
        return SearchSpace(dimensions: dims, template: .object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) }))
    }()

    /// A smooth made-up loss over the mixed space.
    private func loss(_ c: Configuration) -> Double {
        let v = c.values
        return (v[0] == 1 ? 0 : 0.5) + abs(v[1] - 12) / 40 + abs(log10(v[2]) + 3) / 4 + v[3]
    }

    private func run(_ strategy: ReinforceStrategy, trials: Int) throws -> [Configuration] {
        try (0..<trials).map { n in
            let c = try strategy.ask(number: n)
            strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [loss(c)]))
            return c
        }
    }

    func testSameSeedGivesSameAsksAndOtherSeedOthers() throws {
        let a = try run(ReinforceStrategy(space: mixedSpace, objectives: 1, seed: 11), trials: 40)
        let b = try run(ReinforceStrategy(space: mixedSpace, objectives: 1, seed: 11), trials: 40)
        let c = try run(ReinforceStrategy(space: mixedSpace, objectives: 1, seed: 12), trials: 40)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertGreaterThan(Set(a).count, 30, "the policy explores")
    }

    /// A fresh strategy told the stored history, in order, proposes what the original would.
    func testResumedStudyProposesWhatTheOriginalWould() throws {
        let original = try ReinforceStrategy(space: mixedSpace, objectives: 1, seed: 5)
        let history = try run(original, trials: 25)
        let resumed = try ReinforceStrategy(space: mixedSpace, objectives: 1, seed: 5)
        for (n, c) in history.enumerated() {
            resumed.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [loss(c)]))
        }
        XCTAssertEqual(try resumed.ask(number: 25), try original.ask(number: 25))
        XCTAssertEqual(resumed.baseline, original.baseline)
    }

    /// Three choices of four options; reward = how many picked option 2. After 300 tells the
    /// policy puts more than half its mass on (2, 2, 2).
    func testPolicyLearnsToyProblem() throws {
        let dims = (0..<3).map { Dimension(name: "d\($0)", domain: .choice(options: (0..<4).map { .number(Double($0)) })) }
        let space = SearchSpace(dimensions: dims, template: .object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) }))
        let strategy = try ReinforceStrategy(space: space, objectives: 1, options: ReinforceOptions(algorithm: .reinforce), seed: 3)
        let best = Configuration([2, 2, 2])
        let initial = try XCTUnwrap(strategy.logProbability(of: best))
        XCTAssertEqual(initial, 3 * log(0.25), accuracy: 0.2, "the policy starts close to uniform")
        for n in 0..<300 {
            let c = try strategy.ask(number: n)
            let hits = c.values.filter { $0 == 2 }.count
            strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [-Double(hits)]))
        }
        let p = exp(try XCTUnwrap(strategy.logProbability(of: best)))
        XCTAssertGreaterThan(p, 0.5)
        XCTAssertEqual(strategy.updates, 300)
    }

    /// Conditional dimensions: only active ones are decided; every value is in its domain and
    /// inactive ones carry the fixed value.
    func testConditionalSpaceGivesValidConfigurations() throws {
        let dims = [
            Dimension(name: "model", domain: .choice(options: [.string("mlp"), .string("cnn")])),
            Dimension(name: "width", domain: .integer(lower: 16, upper: 512), condition: .init(parent: 0, option: 0)),
            Dimension(name: "kernel", domain: .choice(options: [.number(3), .number(5), .number(7)]), condition: .init(parent: 0, option: 1)),
            Dimension(name: "dilation", domain: .real(.init(.uniform(low: 1, high: 4))), condition: .init(parent: 2, option: 2)),
            Dimension(name: "lr", domain: .real(.init(.normal(mean: -7, deviation: 1), log: true))),
        ]
        let space = SearchSpace(dimensions: dims, template: .object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) }))
        let strategy = try ReinforceStrategy(space: space, objectives: 1, seed: 9)
        var seenInactive = Set<Int>(), seenActive = Set<Int>()
        for n in 0..<60 {
            let c = try strategy.ask(number: n)
            for (i, d) in dims.enumerated() {
                XCTAssertTrue(d.domain.contains(c.values[i]), "\(d.name) = \(c.values[i]) in trial \(n)")
                if space.isActive(i, in: c) { seenActive.insert(i) } else {
                    seenInactive.insert(i)
                    XCTAssertEqual(c.values[i], strategy.codings[i].fixedValue, "inactive \(d.name) carries the fixed value")
                }
            }
            let parts = try XCTUnwrap(strategy.episodeParts(of: c))
            let active = dims.indices.map { i in
                strategy.decisionIndex[i].map { parts.decisions[$0] != nil } ?? (parts.coordinates[strategy.gaussianIndex[i]!] != nil)
            }
            XCTAssertEqual(active, dims.indices.map { space.isActive($0, in: c) })
            strategy.tell(TrialResult(number: n, configuration: c, outcome: n % 7 == 0 ? .failed : .complete,
                                      objectives: n % 7 == 0 ? [] : [c.values[4]]))
        }
        XCTAssertEqual(seenActive, Set(dims.indices), "every dimension is decided sometimes")
        XCTAssertEqual(seenInactive, [1, 2, 3])
    }

    func testDecisionCodingRoundTrips() {
        var rng = RandomSource(seed: 1)
        let domains: [Domain] = [
            .choice(options: (0..<12).map { .number(Double($0)) }),    // more options than bins: one class each
            .integer(lower: 1, upper: 100),
            .integer(lower: 0, upper: 3),
            .real(.init(.uniform(low: 1e-4, high: 1), log: true)),
            .real(.init(.uniform(low: 0, high: 1), q: 0.05)),
        ]
        for domain in domains {
            let coding = DecisionCoding(domain: domain, bins: 8)
            for k in 0..<coding.classes {
                for _ in 0..<5 {
                    let v = coding.value(of: k, using: &rng)
                    XCTAssertTrue(domain.contains(v), "\(domain): \(v)")
                    XCTAssertEqual(coding.decision(for: v), k, "\(domain): \(v) comes from class \(k)")
                }
            }
        }
        XCTAssertEqual(DecisionCoding(domain: domains[0], bins: 8).classes, 12)
        XCTAssertEqual(DecisionCoding(domain: domains[2], bins: 8).classes, 4)
        XCTAssertEqual(DecisionCoding(domain: domains[1], bins: 8).decision(for: 7), 0)
        XCTAssertEqual(DecisionCoding(domain: domains[1], bins: 8).decision(for: 13), 1)
    }

    /// ∂L/∂z of one decision against central differences of the loss, then the same through the
    /// engine's layers: the head bias of a decision's block adds to exactly its logits.
    func testReinforceGradientMatchesFiniteDifferences() {
        let z = [0.3, -1.2, 0.8, 0.1]
        for (advantage, beta) in [(0.7, 0.0), (-1.3, 0.05), (0.0, 0.2)] {
            let g = reinforceLoss(logits: z, action: 2, advantage: advantage, entropyWeight: beta).gradient
            for k in z.indices {
                var plus = z, minus = z
                plus[k] += 1e-6; minus[k] -= 1e-6
                let numeric = (reinforceLoss(logits: plus, action: 2, advantage: advantage, entropyWeight: beta).loss
                             - reinforceLoss(logits: minus, action: 2, advantage: advantage, entropyWeight: beta).loss) / 2e-6
                XCTAssertEqual(g[k], numeric, accuracy: 1e-7, "A = \(advantage), β = \(beta), k = \(k)")
            }
        }

        let policy = PolicyNetwork(classes: [3, 2, 4], hidden: 5, seed: 4)
        var rng = RandomSource(seed: 8)
        let values = policy.store.values
        for i in 0..<values.count { values.data[i] += 0.3 * rng.nextNormal() }
        let decisions: [Int?] = [1, nil, 3]
        func loss() -> Double { policy.accumulateGradient(decisions, advantage: 0.9, entropyWeight: 0.1) }
        policy.store.zeroGradients()
        _ = loss()
        let analytic = policy.store.grads.array
        var checked = 0
        for p in policy.store.parameters {
            for i in 0..<p.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + 1e-2; let lp = loss()
                p.value.data[i] = saved - 1e-2; let lm = loss()
                p.value.data[i] = saved
                let numeric = Float((lp - lm) / 2e-2)
                let a = analytic[p.offset + i]
                XCTAssertEqual(a, numeric, accuracy: 2e-3 * max(1, abs(numeric)), "\(p.name)[\(i)]")
                checked += 1
            }
        }
        XCTAssertEqual(checked, (9 * 5 + 5) + (5 * 9 + 9))
        // The inactive decision's logits get no gradient: its head rows and bias stay at zero.
        let heads = policy.store.parameters[3]
        XCTAssertEqual(heads.name, "policy.heads.bias")
        XCTAssertEqual(analytic[heads.offset + 3], 0)
        XCTAssertEqual(analytic[heads.offset + 4], 0)
    }

    func testMnasNetRewardByHand() {
        let r = MnasNetReward(metricIndex: 1, costIndex: 0, target: 80)
        // 0.75 · (90/80)^−0.07 = 0.75 · exp(−0.07 · ln 1.125) = 0.75 · exp(−0.0082448) = 0.743842
        XCTAssertEqual(r([90, -0.75]), 0.743842, accuracy: 1e-6)
        // Under target the soft constraint rewards saving: 0.9 · 0.5^−0.07 = 0.944745
        XCTAssertEqual(r([40, -0.9]), 0.944745, accuracy: 1e-6)
        XCTAssertEqual(MnasNetReward(target: 80, w: 0)([-0.6, 500]), 0.6, "w = 0 ignores the cost")
    }

    func testCentredRanksOrderFeasibleInfeasibleAndFailed() {
        var ranked = RankedRewards(scalarization: .single, objectives: 1)
        func tell(_ outcome: TrialOutcome, _ f: [Double], _ v: Double = 0) -> Double {
            ranked.reward(for: TrialResult(number: 0, configuration: Configuration([]), outcome: outcome, objectives: f, violation: v), weights: [1])
        }
        XCTAssertEqual(tell(.complete, [5]), 0, "the first result has nothing to rank against")
        XCTAssertEqual(tell(.complete, [3]), 1, "better than everything")
        XCTAssertEqual(tell(.complete, [4]), 0, "between 3 and 5")
        XCTAssertEqual(tell(.infeasible, [0], 2), -1, "below every feasible result, whatever its objectives")
        XCTAssertEqual(tell(.infeasible, [9], 1), -0.5, "less violation ranks above more: (1 worse) / 4 · 2 − 1")
        XCTAssertEqual(tell(.failed, []), -1)
        XCTAssertEqual(tell(.complete, [.nan]), -1, "a non-finite objective scores as a failure")
        XCTAssertEqual(ranked.count, 5)

        var weightsRng = RandomSource(seed: 2)
        let w = uniformSimplexWeights(count: 3, using: &weightsRng)
        XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertTrue(w.allSatisfy { $0 > 0 })
        var two = RankedRewards(scalarization: .randomWeights, objectives: 2)
        _ = two.reward(for: TrialResult(number: 0, configuration: Configuration([]), outcome: .complete, objectives: [0, 10]), weights: [0.5, 0.5])
        _ = two.reward(for: TrialResult(number: 1, configuration: Configuration([]), outcome: .complete, objectives: [4, 0]), weights: [0.5, 0.5])
        // Ranges [0, 4] × [0, 10]; (1, 5) normalises to (0.25, 0.5): −(0.5·0.5 + 0.05·(0.125 + 0.25)) = −0.26875.
        XCTAssertEqual(two.scalar([1, 5], weights: [0.5, 0.5]), -0.26875, accuracy: 1e-12)
    }

    func testOptionsFromSpecAndTheirErrors() throws {
        func make(_ pairs: [(String, JSONValue)], objectives: Int = 1) throws -> ReinforceStrategy {
            try ReinforceStrategy.make(spec: StrategySpec(name: "reinforce", options: .object(pairs)), space: mixedSpace,
                                       objectives: objectives, seed: 1)
        }
        func reason(_ pairs: [(String, JSONValue)], objectives: Int = 1) -> String {
            do { _ = try make(pairs, objectives: objectives); return "no error" } catch { return "\(error)" }
        }
        let s = try make([("name", .string("reinforce")), ("learning_rate", .number(0.01)), ("bins", .number(4)), ("entropy_weight", .number(0))])
        XCTAssertEqual(s.options.learningRate, 0.01)
        XCTAssertEqual(s.codings[2].classes, 4)
        let m = try make([("reward", .string("mnasnet")), ("target", .number(80)), ("cost_index", .number(2))], objectives: 3)
        XCTAssertEqual(m.options.reward, .mnasnet(MnasNetReward(metricIndex: 0, costIndex: 2, target: 80, w: -0.07)))

        XCTAssertEqual(reason([("learning_rate", .number(-1))]), "strategy.learning_rate: must be positive, got -1")
        XCTAssertEqual(reason([("learning_rat", .number(1))]),
                       "strategy.learning_rat: unknown option of strategy 'reinforce' (valid: algorithm, batch, epochs, clip, "
                       + "entropy_half_life, learning_rate, hidden, bins, baseline_decay, entropy_weight, reward, "
                       + "numeric, deviation, mean_rate, deviation_rate, elite, metric_index, cost_index, target, w). Did you mean 'learning_rate'?")
        XCTAssertEqual(reason([("bins", .number(2.5))]), "strategy.bins: expected a whole number, got 2.5")
        XCTAssertEqual(reason([("bins", .number(1))]), "strategy.bins: must be in 2...1024, got 1")
        XCTAssertEqual(reason([("baseline_decay", .number(1))]), "strategy.baseline_decay: must be in [0, 1), got 1")
        XCTAssertEqual(reason([("reward", .string("mnasnett"))], objectives: 2),
                       "strategy.reward: unknown reward 'mnasnett' (valid: random_weights, mnasnet). Did you mean 'mnasnet'?")
        XCTAssertEqual(reason([("reward", .string("mnasnet")), ("target", .number(1))]),
                       "strategy.reward: mnasnet needs an accuracy and a cost objective, the study has 1")
        XCTAssertEqual(reason([("reward", .string("mnasnet"))], objectives: 2),
                       "strategy.target: required with \"reward\": \"mnasnet\" (the cost target T)")
        XCTAssertEqual(reason([("target", .number(80))], objectives: 2), "strategy.target: only used with \"reward\": \"mnasnet\"")
        XCTAssertEqual(reason([("reward", .string("mnasnet")), ("target", .number(80)), ("metric_index", .number(2))], objectives: 2),
                       "strategy.metric_index: must be an objective index in 0...1, got 2")
        XCTAssertEqual(reason([("reward", .string("mnasnet")), ("target", .number(80)), ("w", .number(0.1))], objectives: 2),
                       "strategy.w: must be at most 0 (a cost above target lowers the reward), got 0.1")
        XCTAssertEqual(reason([("hidden", .string("64"))]), "strategy.hidden: expected a number, got a string")
        XCTAssertEqual(try ReinforceOptions(parsing: .null, objectives: 2), ReinforceOptions(), "no options: the defaults")
        XCTAssertThrowsError(try ReinforceOptions(parsing: .array([]), objectives: 1))
    }

    /// Several objectives with random weights, infeasible and failed results, and results of
    /// trials the strategy never proposed (told from outside, with out-of-range values).
    func testMultiObjectiveTellsFromOutside() throws {
        let strategy = try ReinforceStrategy(space: mixedSpace, objectives: 2, seed: 21)
        var rng = RandomSource(seed: 4)
        for n in 0..<30 {
            let c = n % 3 == 0 ? mixedSpace.sample(using: &rng) : try strategy.ask(number: n)
            let outcome: TrialOutcome = n % 5 == 4 ? .infeasible : (n % 11 == 10 ? .failed : .complete)
            strategy.tell(TrialResult(number: n, configuration: c, outcome: outcome,
                                      objectives: outcome == .failed ? [] : [loss(c), c.values[1]],
                                      violation: outcome == .infeasible ? Double(n) : 0))
        }
        strategy.tell(TrialResult(number: 99, configuration: Configuration([7, 500, 3, -1]), outcome: .complete, objectives: [1, 1]))
        strategy.tell(TrialResult(number: 98, configuration: Configuration([0, 1]), outcome: .complete, objectives: [1, 1]))
        XCTAssertEqual(strategy.updates, 31, "a configuration of the wrong length is ignored; out-of-range values are clamped")
        XCTAssertNil(strategy.logProbability(of: Configuration([.nan, 1, 1, 0])))
    }
}
