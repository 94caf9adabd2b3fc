import Foundation
import XCTest
@testable import Bench

/// The nightly regression rule on synthetic histories.
final class RegressionRuleTests: XCTestCase {
    let rule = RegressionRule()

    func testNoiseDoesNotTriggerItAndARealStepDoes() {
        let steady = [1.00, 1.03, 0.98, 1.02, 0.99]
        XCTAssertEqual(rule.verdict(now: 1.04, history: steady, better: .lower), .ok, "4% is inside the 5% threshold")
        XCTAssertEqual(rule.verdict(now: 1.30, history: steady, better: .lower), .regression)
        XCTAssertEqual(rule.verdict(now: 0.70, history: steady, better: .lower), .improvement, "an improvement is no regression")
        // Higher is better: an accuracy falling from 0.87 is a regression; rising, an improvement.
        let accuracy = [0.871, 0.869, 0.870, 0.872, 0.868]
        XCTAssertEqual(rule.verdict(now: 0.80, history: accuracy, better: .higher), .regression)
        XCTAssertEqual(rule.verdict(now: 0.95, history: accuracy, better: .higher), .improvement)
        XCTAssertEqual(rule.verdict(now: 0.865, history: accuracy, better: .higher), .ok)
    }

    func testANoisyMetricNeedsABiggerStep() {
        // Median 1.0; deviations 0, .1, .2, .2, .4 → MAD .2, σ̂ = 0.2965, 3σ̂ = 0.89.
        let noisy = [1.0, 1.4, 0.8, 1.2, 0.9]
        let judged = rule.judge(now: 1.3, history: noisy, better: .lower)
        XCTAssertEqual(judged.baseline, 1.0)
        XCTAssertEqual(judged.tolerance ?? 0, 3 * 1.4826 * 0.2, accuracy: 1e-12)
        XCTAssertEqual(judged.verdict, .ok, "30% slower is within this metric's noise")
        XCTAssertEqual(rule.verdict(now: 2.0, history: noisy, better: .lower), .regression)
    }

    func testWindowHistoryLengthAndBrokenValues() {
        // Only the newest `window` values count: after an accepted step to 2 s, the old 1 s runs
        // are forgotten by a window of 3, not by one of 8 (whose median is still 1).
        let history = [2.0, 2.01, 1.99, 1.0, 1.0, 1.0, 1.0, 1.0]
        XCTAssertEqual(RegressionRule(window: 3).verdict(now: 2.05, history: history, better: .lower), .ok)
        XCTAssertEqual(RegressionRule(window: 8).verdict(now: 2.05, history: history, better: .lower), .regression)
        XCTAssertEqual(rule.verdict(now: 9, history: [1, 1], better: .lower), .new, "two runs are too few")
        XCTAssertEqual(RegressionRule(minimumHistory: 1).verdict(now: 9, history: [1], better: .lower), .regression)
        XCTAssertEqual(rule.verdict(now: 1, history: [], better: .lower), .new)
        XCTAssertEqual(rule.verdict(now: .nan, history: [1, 1, 1], better: .lower), .regression, "a benchmark that broke")
        XCTAssertEqual(rule.verdict(now: 1, history: [.nan, 1, 1, 1], better: .lower), .ok, "NaN history is skipped")
    }

    func testComparisonsMatchMetricsBySuiteAndName() {
        func r(_ suite: String, _ name: String, _ v: Double) -> BenchRecord { BenchRecord(suite: suite, name: name, value: v, unit: "s", better: .lower) }
        let history = (0 ..< 3).map { _ in [r("engine", "mlp.epoch_seconds", 2), r("search", "mlp.epoch_seconds", 100)] }
        let rows = MetricComparison.compare([r("engine", "mlp.epoch_seconds", 3), r("engine", "new_metric", 1)], history: history, rule: rule)
        XCTAssertEqual(rows.map(\.verdict), [.regression, .new])
        XCTAssertEqual(rows[0].baseline, 2)
        XCTAssertEqual(rows[0].change ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(rows[0].history, 3)
        XCTAssertNil(rows[1].baseline)
    }
}
