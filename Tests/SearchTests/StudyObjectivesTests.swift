import Store
import XCTest
@testable import Search

/// Verdicts, the constrained front and the reference point, on hand-made trials.
final class StudyObjectivesTests: XCTestCase {
    let analysis = StudyObjectives(objectives: [Objective("accuracy", .maximize), Objective("flops", .minimize)],
                                   constraints: [MetricConstraint("params", .atMost, 1000)])

    func trial(_ n: Int, _ accuracy: Double, _ flops: Double, params: Double = 500) -> TrialRecord {
        let metrics = ["accuracy": accuracy, "flops": flops, "params": params]
        let v = analysis.verdict(metrics)
        return TrialRecord(study: 1, number: n, state: v.state, parameters: [], metrics: metrics, violation: v.violation,
                           started: Date(), heartbeat: Date(), worker: "w")
    }

    func testVerdicts() {
        XCTAssertEqual(analysis.verdict(["accuracy": 0.9, "flops": 10, "params": 10]).state, .complete)
        let over = analysis.verdict(["accuracy": 0.9, "flops": 10, "params": 1500])
        XCTAssertEqual(over.state, .infeasible)
        XCTAssertEqual(over.violation, 0.5, accuracy: 1e-12, "violation relative to the bound: (1500 − 1000) / 1000")
        XCTAssertEqual(analysis.verdict(["accuracy": 0.9, "params": 10]).message,
                       "metric 'flops' missing from the evaluation (it reported: accuracy, params)")
        XCTAssertEqual(analysis.verdict(["accuracy": .nan, "flops": 1, "params": 1]).state, .fail)
        XCTAssertEqual(analysis.verdict(["accuracy": 0.9, "flops": 10, "params": 1], stoppedEarly: true).state, .pruned)
    }

    func testFrontUsesConstrainedDominationAndOrdersByTheFirstObjective() {
        let trials = [
            trial(0, 0.80, 100), trial(1, 0.90, 300), trial(2, 0.85, 400),   // 2 is dominated by 1
            trial(3, 0.95, 50, params: 5000),                                 // infeasible, would dominate all
            trial(4, 0.70, 20),
        ]
        XCTAssertEqual(analysis.front(trials).map(\.number), [1, 0, 4], "best accuracy first")
        let onlyInfeasible = [trial(0, 0.9, 10, params: 3000), trial(1, 0.5, 5, params: 1200)]
        XCTAssertEqual(analysis.front(onlyInfeasible).map(\.number), [1], "the least violation wins when none is feasible")
    }

    func testReferencePointAndHypervolumeInTheObjectivesOwnUnits() throws {
        let trials = [trial(0, 0.8, 100), trial(1, 0.9, 300), trial(2, 0.6, 50)]
        let ref = try XCTUnwrap(analysis.chooseReferencePoint(trials))
        XCTAssertEqual(ref[0], 0.6 - 0.1 * 0.3, accuracy: 1e-12, "worst accuracy pushed down by 10% of the range")
        XCTAssertEqual(ref[1], 300 + 0.1 * 250, accuracy: 1e-9, "worst flops pushed up by 10% of the range")
        // Minimised: points (−0.8, 100), (−0.9, 300), (−0.6, 50) against (−0.57, 325).
        let expected = (0.9 - 0.57) * (325 - 300) + (0.8 - 0.57) * (300 - 100) + (0.6 - 0.57) * (100 - 50)
        XCTAssertEqual(analysis.hypervolume(trials, reference: ref), expected, accuracy: 1e-9)
    }
}
