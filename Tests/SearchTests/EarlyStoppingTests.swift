import XCTest
import Engine
@testable import Search

final class EarlyStoppingTests: XCTestCase {
    func testRungPositions() throws {
        XCTAssertEqual(try SuccessiveHalving(minResource: 1, maxResource: 27, reductionFactor: 3).rungs, [1, 3, 9, 27])
        XCTAssertEqual(try SuccessiveHalving(minResource: 2, maxResource: 50, reductionFactor: 3).rungs, [2, 6, 18])
        XCTAssertEqual(try SuccessiveHalving(minResource: 1, maxResource: 10, reductionFactor: 2).rungs, [1, 2, 4, 8])
        XCTAssertEqual(try SuccessiveHalving(minResource: 5, maxResource: 5, reductionFactor: 4).rungs, [5])
        XCTAssertEqual(SuccessiveHalving.rungs(minResource: 1, maxResource: .max, reductionFactor: 10).count, 19, "stops before overflowing")
    }

    /// Runs trials one after another on their learning curves: each records every step up to
    /// `maxResource` and ends when told to stop. Returns the step each trial stopped at.
    private func simulate(_ stopper: EarlyStopping, order: [Int], maxResource: Int,
                          curve: (Int, Int) -> [Double]) -> [Int: Int] {
        var ended: [Int: Int] = [:]
        for trial in order {
            ended[trial] = maxResource
            for step in 1...maxResource {
                stopper.record(number: trial, step: step, objectives: curve(trial, step))
                if stopper.shouldStop(number: trial, step: step) { ended[trial] = step; break }
            }
        }
        return ended
    }

    /// Ten good trials (final loss below 1) and fourteen clearly worse ones (above 10), arriving
    /// so that at least a third of the trials seen so far are good: every worse trial stops at
    /// the first rung and the best one never stops.
    func testWorseTrialsStopAtFirstRungAndBestNeverStops() throws {
        let asha = try SuccessiveHalving(minResource: 1, maxResource: 27, reductionFactor: 3)
        let good = Array(0..<10), bad = Array(10..<24)
        var order = Array(good.prefix(3))
        for k in 0..<7 { order += [good[3 + k], bad[2 * k], bad[2 * k + 1]] }
        // Loss curves: base + 1/step, good bases in [0, 1), bad in [10, 11); trial 4 is the best.
        func base(_ t: Int) -> Double { t == 4 ? 0 : (t < 10 ? 0.1 + 0.09 * Double(t % 10) : 10 + 0.07 * Double(t - 10)) }
        let ended = simulate(asha, order: order, maxResource: 27) { t, step in [base(t) + 1 / Double(step)] }
        for t in bad { XCTAssertEqual(ended[t], 1, "worse trial \(t) stops at the first rung") }
        XCTAssertEqual(ended[4], 27, "the best trial runs to the end")
        XCTAssertEqual(asha.count(atRung: 0), 24)
    }

    /// η = 3 on 1000 trials with random final losses in random order: about a third of the
    /// trials that reach a rung go on to the next. The asynchronous rule lets a few more through
    /// than a third (early arrivals face fewer rivals), which shows most on the small top rung.
    func testAboutOneThirdSurviveEachRung() throws {
        let asha = try SuccessiveHalving(minResource: 1, maxResource: 27, reductionFactor: 3)
        var rng = RandomSource(seed: 17)
        let bases = (0..<1000).map { _ in rng.nextDouble() }
        _ = simulate(asha, order: rng.permutation(1000), maxResource: 27) { t, step in [bases[t] + 0.5 / Double(step)] }
        let reached = (0..<4).map { asha.count(atRung: $0) }
        XCTAssertEqual(reached[0], 1000, "\(reached)")
        for k in 1..<4 {
            let fraction = Double(reached[k]) / Double(reached[k - 1])
            XCTAssertGreaterThan(fraction, 0.3, "rung \(k): \(reached)")
            XCTAssertLessThan(fraction, k < 3 ? 0.4 : 0.5, "rung \(k): \(reached)")
        }
    }

    func testFewerThanEtaTrialsAtARungContinue() throws {
        let asha = try SuccessiveHalving(minResource: 1, maxResource: 9, reductionFactor: 3)
        asha.record(number: 0, step: 1, objectives: [1])
        asha.record(number: 1, step: 1, objectives: [5])
        XCTAssertFalse(asha.shouldStop(number: 1, step: 1), "two trials at the rung: both go on")
        asha.record(number: 2, step: 1, objectives: [9])
        XCTAssertTrue(asha.shouldStop(number: 2, step: 1), "third of three: 2·3 ≥ 3")
        XCTAssertFalse(asha.shouldStop(number: 2, step: 2), "between rungs nothing stops")
        // A trial that reports every second step reaches rung 3 at step 4.
        asha.record(number: 0, step: 2, objectives: [0.5])
        asha.record(number: 0, step: 4, objectives: [0.4])
        XCTAssertEqual(asha.count(atRung: 1), 1)
        XCTAssertFalse(asha.shouldStop(number: 0, step: 4))
        // Vectors of the wrong length are ignored; a non-finite value ranks last.
        asha.record(number: 3, step: 1, objectives: [1, 2])
        XCTAssertEqual(asha.count(atRung: 0), 3)
        asha.record(number: 3, step: 1, objectives: [.nan])
        asha.record(number: 4, step: 1, objectives: [20])
        XCTAssertTrue(asha.shouldStop(number: 3, step: 1))
        XCTAssertEqual(SuccessiveHalving.ranking([(4, [20]), (3, [.greatestFiniteMagnitude]), (0, [1]), (1, [5]), (2, [9])]), [0, 1, 2, 4, 3])
    }

    /// Two objectives (error, latency), η = 2. A trial with the worst latency but the best error
    /// is on the Pareto front and keeps running; a trial dominated by another stops — although
    /// by the sum of its objectives the first would rank last and the second near the top.
    func testMultiObjectiveKeepsNonDominatedAndStopsDominated() throws {
        let asha = try SuccessiveHalving(minResource: 1, maxResource: 8, reductionFactor: 2, objectives: 2)
        asha.record(number: 0, step: 1, objectives: [0.30, 1.0])
        asha.record(number: 1, step: 1, objectives: [0.20, 2.0])
        asha.record(number: 2, step: 1, objectives: [0.40, 3.0])
        XCTAssertTrue(asha.shouldStop(number: 2, step: 1), "dominated by trial 0")
        asha.record(number: 3, step: 1, objectives: [0.05, 9.0])
        XCTAssertFalse(asha.shouldStop(number: 3, step: 1), "worst latency, but non-dominated")
        asha.record(number: 4, step: 1, objectives: [0.25, 1.5])
        // Fronts {0, 1, 3, 4}, {2}; rank·2 < 5 keeps three. In the front 0 and 3 are extremes and 1
        // (crowding 0.20/0.25 + 7.5/8 = 1.7375) is more isolated than 4 (0.10/0.25 + 1/8 = 0.525):
        // the last place goes to 1 and trial 4 stops although nothing dominates it.
        XCTAssertTrue(asha.shouldStop(number: 4, step: 1))
        XCTAssertEqual(SuccessiveHalving.ranking([(0, [0.30, 1.0]), (1, [0.20, 2.0]), (2, [0.40, 3.0]), (3, [0.05, 9.0]), (4, [0.25, 1.5])]),
                       [0, 3, 1, 4, 2])
        asha.record(number: 5, step: 1, objectives: [0.35, 1.2])
        XCTAssertTrue(asha.shouldStop(number: 5, step: 1), "dominated by trial 0, although its sum is the second smallest")
    }

    /// Within the last front that fits, the trials kept are those with the largest crowding
    /// distance: the extremes first, then the most isolated.
    func testCrowdingDistanceOrdersTheLastFront() {
        let xs = [0, 1, 1.2, 1.4, 5, 9]
        let ranked = SuccessiveHalving.ranking(xs.enumerated().map { ($0.offset, [$0.element, 9 - $0.element]) })
        XCTAssertEqual(ranked, [0, 5, 4, 3, 1, 2])
    }

    func testHyperbandBracketsAreReproducibleAndSpread() throws {
        let hb = try Hyperband(minResource: 1, maxResource: 27, reductionFactor: 3, seed: 7)
        XCTAssertEqual(hb.brackets.map(\.rungs), [[1, 3, 9, 27], [3, 9, 27], [9, 27], [27]])
        // Configurations Hyperband starts per bracket (Li et al. 2018, s_max = 3): 27, 12 (⌈4/3·9⌉), 6, 4.
        XCTAssertEqual(hb.weights, [27, 12, 6, 4].map { $0 / 49.0 })
        XCTAssertEqual(Hyperband.weights(brackets: 3, reductionFactor: 3), [9, 5, 3].map { $0 / 17.0 })

        let again = try Hyperband(minResource: 1, maxResource: 27, reductionFactor: 3, seed: 7)
        let other = try Hyperband(minResource: 1, maxResource: 27, reductionFactor: 3, seed: 8)
        let assignment = (0..<4000).map(hb.bracket(of:))
        XCTAssertEqual(assignment, (0..<4000).map(again.bracket(of:)))
        XCTAssertNotEqual(assignment, (0..<4000).map(other.bracket(of:)))
        for (s, w) in hb.weights.enumerated() {
            let share = Double(assignment.filter { $0 == s }.count) / 4000
            XCTAssertEqual(share, w, accuracy: 0.03, "bracket \(s)")
        }
    }

    /// Trials are ranked only within their bracket; the last bracket runs every trial to the end.
    func testHyperbandRoutesTrialsToTheirBracket() throws {
        let hb = try Hyperband(minResource: 1, maxResource: 9, reductionFactor: 3, seed: 3)
        var rng = RandomSource(seed: 5)
        let bases = (0..<200).map { _ in rng.nextDouble() }
        let ended = simulate(hb, order: Array(0..<200), maxResource: 9) { t, step in [bases[t] + 1 / Double(step)] }
        for t in 0..<200 {
            let s = hb.bracket(of: t)
            let first = hb.brackets[s].rungs[0]
            XCTAssertTrue(ended[t] == 9 || ended[t] == first || ended[t] == first * 3, "trial \(t) in bracket \(s) ended at \(ended[t] ?? -1)")
            if s == hb.brackets.count - 1 { XCTAssertEqual(ended[t], 9) }
        }
        XCTAssertEqual(hb.brackets.map { $0.count(atRung: 0) }.reduce(0, +), 200)
        XCTAssertEqual(Set(ended.values), [1, 3, 9], "bracket 0 stops at 1 and 3, bracket 1 at 3, the rest run to 9")
    }

    func testFactoryAndItsErrors() throws {
        let asha = try EarlyStoppingFactory.make(EarlyStoppingSpec(kind: .successiveHalving, minResource: 2), maxResource: 20, objectives: 2, seed: 1)
        XCTAssertEqual((asha as? SuccessiveHalving)?.rungs, [2, 6, 18])
        XCTAssertEqual((asha as? SuccessiveHalving)?.objectives, 2)
        let hb = try EarlyStoppingFactory.make(EarlyStoppingSpec(kind: .hyperband, maxResource: 8, reductionFactor: 2), maxResource: 100, objectives: 1, seed: 1)
        XCTAssertEqual((hb as? Hyperband)?.brackets.count, 4, "the spec's max_resource wins over the evaluator's")

        func reason(_ spec: EarlyStoppingSpec, budget: Int = 27) -> String {
            do { _ = try EarlyStoppingFactory.make(spec, maxResource: budget, objectives: 1, seed: 0); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(reason(EarlyStoppingSpec(kind: .hyperband, reductionFactor: 1)), "early_stopping.reduction_factor: must be at least 2, got 1")
        XCTAssertEqual(reason(EarlyStoppingSpec(kind: .successiveHalving, minResource: 0)), "early_stopping.min_resource: must be at least 1, got 0")
        XCTAssertEqual(reason(EarlyStoppingSpec(kind: .successiveHalving, minResource: 4, maxResource: 3)),
                       "early_stopping.max_resource: must be at least min_resource (4), got 3")
        XCTAssertEqual(reason(EarlyStoppingSpec(kind: .hyperband, minResource: 30)),
                       "early_stopping.min_resource: must be at most the evaluator's budget (27), got 30")
    }
}
