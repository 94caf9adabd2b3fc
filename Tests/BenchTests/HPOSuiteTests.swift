import XCTest
import Search
@testable import Bench

final class HPOSuiteTests: XCTestCase {
    func testAverageRanksShareTies() {
        XCTAssertEqual(averageRanks([3, 1, 1]), [3, 1.5, 1.5])
        XCTAssertEqual(averageRanks([3, 1, 2], higherIsBetter: true), [1, 3, 2])
    }

    /// Against SciPy's `mannwhitneyu(..., alternative="two-sided", method="asymptotic")`, which
    /// applies the same tie and continuity corrections: 0.000939 and 0.048684.
    func testMannWhitneyMatchesReferenceValues() {
        XCTAssertEqual(mannWhitneyP(Array(1...8).map(Double.init), Array(9...16).map(Double.init)), 0.0009391056991171899, accuracy: 1e-9)
        XCTAssertEqual(mannWhitneyP([1, 2, 2, 3, 5, 6, 7, 7, 9, 10], [2, 4, 4, 8, 9, 11, 12, 13, 13, 15]), 0.04868350346702654, accuracy: 1e-9)
        XCTAssertEqual(mannWhitneyP([1, 1], [1, 1]), 1)
    }

    func testStrategyWithOptionsInItsName() {
        XCTAssertEqual(HPOSuite.spec("tpe"), StrategySpec(name: "tpe"))
        XCTAssertEqual(HPOSuite.spec("rl:algorithm=reinforce:learning_rate=0.01"),
                       StrategySpec(name: "rl", options: .object([.init("algorithm", .string("reinforce")), .init("learning_rate", .number(0.01))])))
    }

    /// Two strategies on one problem of each kind: medians, ranks, RL against random.
    func testRecordsFromRuns() {
        let single = HPOSuite.Problem(name: "hpobench_x", variables: 1, objectives: 1, lower: [0], upper: [1], levels: [2], reference: nil, optimum: 0.1)
        let double = HPOSuite.Problem(name: "biobj_f01_d02", variables: 2, objectives: 2, lower: [0, 0], upper: [1, 1], levels: nil, reference: [1, 1], optimum: nil)
        var runs: [HPOSuite.Run] = []
        for seed in 0..<10 {
            runs.append(.init(problem: single.name, strategy: "rl", seed: seed, scores: [0.2 + Double(seed) / 100], seconds: 0))
            runs.append(.init(problem: single.name, strategy: "random", seed: seed, scores: [0.5 + Double(seed) / 100], seconds: 0))
            runs.append(.init(problem: double.name, strategy: "rl", seed: seed, scores: [0.3], seconds: 0))
            runs.append(.init(problem: double.name, strategy: "random", seed: seed, scores: [0.4], seconds: 0))
        }
        let records = HPOSuite.records(problems: [single, double], runs: runs, budgets: [100])
        func value(_ name: String) -> Double? { records.first { $0.name == name }?.value }
        XCTAssertEqual(value("hpobench_x.rl.b100")!, 0.145, accuracy: 1e-12, "median 0.245 minus the optimum 0.1")
        XCTAssertEqual(value("biobj_f01_d02.random.b100"), 0.4)
        XCTAssertEqual(value("all.random.b100.mean_rank"), 1.5, "better on the two-objective problem only")
        XCTAssertEqual(value("targets.rl_beats_random_share.b100"), 0.5)
        XCTAssertLessThan(value("hpobench_x.rl_vs_random.b100.p")!, 0.001)
    }
}
