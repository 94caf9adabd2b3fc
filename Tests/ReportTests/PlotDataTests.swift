import Foundation
import Search
import Store
import XCTest
@testable import Report

/// The data behind every plot, from hand-made trials; no gnuplot needed.
final class PlotDataTests: XCTestCase {
    let analysis = StudyObjectives(objectives: [Objective("accuracy", .maximize), Objective("flops", .minimize)],
                                   constraints: [MetricConstraint("params", .atMost, 1000)])

    func trial(_ n: Int, _ metrics: [String: Double], state: TrialState? = nil, finished: Int64? = nil,
               parameters: [ParameterRecord] = [], curve: [Int: [String: Double]] = [:]) -> TrialRecord {
        let v = analysis.verdict(metrics)
        return TrialRecord(study: 1, number: n, state: state ?? v.state, parameters: parameters, metrics: metrics,
                           violation: v.violation, intermediate: curve, started: Date(), heartbeat: Date(), worker: "w",
                           finishSequence: finished ?? Int64(n))
    }

    func testFrontScatterSplitsFrontDominatedAndInfeasible() {
        let trials = [
            trial(0, ["accuracy": 0.90, "flops": 100, "params": 10]),
            trial(1, ["accuracy": 0.80, "flops": 50, "params": 10]),
            trial(2, ["accuracy": 0.85, "flops": 120, "params": 10]),      // dominated by 0
            trial(3, ["accuracy": 0.99, "flops": 10, "params": 5000]),     // infeasible: params over 1000
            trial(4, ["accuracy": 0.70], state: .fail),                    // not drawn
            trial(5, ["accuracy": 0.95, "flops": 1, "params": 1], state: .pruned),   // not drawn
        ]
        let s = FrontScatter(trials, objectives: analysis, x: 0, y: 1)
        XCTAssertEqual(s.xMetric, "accuracy")
        XCTAssertEqual(s.front, [PlotPoint(trial: 1, x: 0.80, y: 50), PlotPoint(trial: 0, x: 0.90, y: 100)], "left to right")
        XCTAssertEqual(s.dominated.map(\.trial), [2])
        XCTAssertEqual(s.infeasible.map(\.trial) + s.clipped.map(\.trial), [3])
        XCTAssertTrue(FrontScatter([], objectives: analysis, x: 0, y: 1).isEmpty)
    }

    func testHypervolumeHistoryWorkedByHand() {
        // Minimise both, reference (1, 1). (0.5, 0.5) covers 0.25; (0.25, 0.75) adds
        // 0.75·0.25 − 0.5·0.25 = 0.0625; (0.6, 0.6) is dominated; a failure changes nothing.
        let minimize = StudyObjectives(objectives: [Objective("a", .minimize), Objective("b", .minimize)])
        func t(_ n: Int, _ a: Double, _ b: Double, finished: Int64) -> TrialRecord {
            TrialRecord(study: 1, number: n, state: .complete, parameters: [], metrics: ["a": a, "b": b],
                        started: Date(), heartbeat: Date(), worker: "w", finishSequence: finished)
        }
        var failed = t(3, 0, 0, finished: 3)
        failed.state = .fail
        // Trial 1 finished before trial 0: history follows the finish order.
        let trials = [t(0, 0.25, 0.75, finished: 2), t(1, 0.5, 0.5, finished: 1), t(2, 0.6, 0.6, finished: 4), failed]
        let history = HypervolumeHistory.make(trials, objectives: minimize, reference: [1, 1])
        XCTAssertEqual(history.map(\.trials), [1, 2, 3, 4])
        for (got, want) in zip(history.map(\.hypervolume), [0.25, 0.3125, 0.3125, 0.3125]) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        // Sampled: at most 2 points, the last always included.
        XCTAssertEqual(HypervolumeHistory.make(trials, objectives: minimize, reference: [1, 1], points: 2).map(\.trials), [2, 4])
        // A maximised objective's reference is in its own units: accuracy 0.5 → −0.5 minimised.
        let h = HypervolumeHistory.make([trial(0, ["accuracy": 0.9, "flops": 100, "params": 1])], objectives: analysis, reference: [0.5, 200])
        XCTAssertEqual(h.last?.hypervolume ?? 0, 0.4 * 100, accuracy: 1e-9)
    }

    func testLearningCurvesKeepStateAndChooseAnObjective() {
        let trials = [
            trial(0, ["accuracy": 0.9, "flops": 1, "params": 1], curve: [2: ["accuracy": 0.8, "loss": 0.5], 1: ["accuracy": 0.6, "loss": 0.9]]),
            trial(1, ["accuracy": 0.5], state: .pruned, curve: [1: ["accuracy": 0.4]]),
            trial(2, ["accuracy": 0.5, "flops": 1, "params": 1]),
        ]
        XCTAssertEqual(LearningCurve.metric(trials, objectives: ["flops", "accuracy"]), "accuracy", "flops was never reported")
        XCTAssertEqual(LearningCurve.metric(trials, objectives: ["flops"]), "accuracy", "else the first reported, by name")
        XCTAssertNil(LearningCurve.metric([trials[2]], objectives: ["accuracy"]))
        let curves = LearningCurve.make(trials, metric: "accuracy")
        XCTAssertEqual(curves.map(\.trial), [0, 1])
        XCTAssertEqual(curves[0].points.map(\.x), [1, 2], "in step order")
        XCTAssertEqual(curves[0].points.map(\.y), [0.6, 0.8])
        XCTAssertEqual(curves[1].state, .pruned)
    }

    func testParallelCoordinatesNormaliseParametersAndObjectives() throws {
        let space = try SpaceFile.parse(Data("""
            {"evaluator": {"command": {"run": "true"}}, "objectives": {"accuracy": "maximize", "flops": "minimize"},
             "training": {"lr": {"_type": "uniform", "_value": [0, 10]}, "act": {"_type": "choice", "_value": ["relu", "gelu", "tanh"]}}}
            """.utf8), file: "space.json").space
        func p(_ lr: Double, _ act: Double) -> [ParameterRecord] {
            [ParameterRecord(name: "training.lr", value: lr, json: "\(lr)"), ParameterRecord(name: "training.act", value: act, json: "\(act)")]
        }
        let trials = [trial(0, ["accuracy": 0.9, "flops": 100, "params": 1], parameters: p(2.5, 2)),
                      trial(1, ["accuracy": 0.7, "flops": 300, "params": 1], parameters: p(10, 0))]
        let pc = ParallelCoordinates(trials, space: space, objectives: analysis)
        XCTAssertEqual(pc.axes.map(\.name), ["training.lr", "training.act", "accuracy", "flops"])
        XCTAssertEqual(pc.axes[0].low, "0")
        XCTAssertEqual(pc.axes[0].high, "10")
        XCTAssertEqual(pc.axes[1].ticks.map(\.label), ["relu", "gelu", "tanh"], "every option of a small choice, as written")
        XCTAssertEqual(pc.axes[2].low, "0.7")
        XCTAssertEqual(pc.lines.map(\.onFront), [true, false], "trial 1 is dominated")
        let first = pc.lines[0].values.map { $0 ?? -1 }
        XCTAssertEqual(first[0], 0.25, accuracy: 1e-12)
        XCTAssertEqual(first[2], 1, accuracy: 1e-12, "the best accuracy tops its axis")
        XCTAssertEqual(first[3], 0, accuracy: 1e-12, "the lowest FLOPs sit at the bottom of theirs")

        // Thinned beyond the limit: the front always, every k-th other trial.
        let many = (0 ..< 7).map { n in trial(n, ["accuracy": 0.5 + 0.01 * Double(n), "flops": 100 - Double(n), "params": 1], parameters: p(1, 0)) }
        let thinned = ParallelCoordinates(many, space: space, objectives: analysis, limit: 2)
        XCTAssertEqual(thinned.lines.map(\.trial), [0, 3, 6], "trial 6 dominates; the other six thinned to every third")
        XCTAssertEqual(thinned.lines.map(\.onFront), [false, false, true])
    }

    /// DTLZ-like: three objectives where a member of the study's front is dominated on one pair.
    func testPairPanelsHighlightTheFrontOverEveryObjective() {
        let three = StudyObjectives(objectives: [Objective("f1", .minimize), Objective("f2", .minimize), Objective("f3", .minimize)])
        func t(_ n: Int, _ f: [Double]) -> TrialRecord {
            TrialRecord(study: 1, number: n, state: .complete, parameters: [], metrics: ["f1": f[0], "f2": f[1], "f3": f[2]],
                        started: Date(), heartbeat: Date(), worker: "w", finishSequence: Int64(n))
        }
        // Trial 1 is worse than trial 0 on (f1, f2) but best on f3: on the front of all three.
        let trials = [t(0, [0.1, 0.1, 0.9]), t(1, [0.5, 0.5, 0.1]), t(2, [0.6, 0.6, 0.6]), t(3, [0.9, 0.05, 0.8])]
        let pair = FrontScatter(trials, objectives: three, x: 0, y: 1)
        XCTAssertEqual(Set(pair.front.map(\.trial)), [0, 1, 3], "the study's front, not the pair's (which would be 0 and 3)")
        XCTAssertEqual(pair.dominated.map(\.trial), [2])
        let view = FrontScatter(trials, objectives: three, x: 0, y: 1, z: 2)
        XCTAssertEqual(view.zMetric, "f3")
        XCTAssertEqual(view.front.first { $0.trial == 1 }?.z, 0.1)
        XCTAssertEqual(view.ranges.count, 3)
    }

    func testAxesAreLinearUnlessTheValuesSpanMoreThanThreeDecades() {
        // DTLZ2: a few values near 0 do not make the axis logarithmic.
        let sphere = [0.0004, 0.002] + (1 ... 40).map { Double($0) / 20 }
        XCTAssertFalse(AxisRange(sphere, scale: .automatic).log)
        XCTAssertTrue(AxisRange(sphere, scale: .log).log, "forced")
        let flops = (0 ..< 20).map { pow(10, 3 + Double($0) / 4) }       // 1e3 … 1e7.75
        XCTAssertTrue(AxisRange(flops, scale: .automatic).log)
        XCTAssertFalse(AxisRange(flops, scale: .linear).log, "forced")
        XCTAssertFalse(AxisRange([0, 1, 1e6], scale: .log).log, "0 has no logarithm: linear whatever was asked")
        XCTAssertEqual(AxisRange(flops, scale: .automatic).label("FLOPs, lower is better"), "FLOPs, lower is better (log scale)")
        XCTAssertEqual(AxisRange(sphere, scale: .automatic).label("f1"), "f1")
        // A log axis always has labelled tics, even within one decade.
        XCTAssertEqual(AxisRange([1.5, 4.5], scale: .log).logTics, [2, 3, 4])
        XCTAssertEqual(AxisRange([0.1, 30], scale: .log).logTics, [0.1, 0.2, 0.5, 1, 2, 5, 10, 20], "1, 2, 5 per decade")
        XCTAssertEqual(AxisRange([0.001, 30], scale: .log).logTics, [0.001, 0.01, 0.1, 1, 10], "too many: the powers of ten")
        XCTAssertEqual(AxisRange([1.5, 4.5], scale: .linear).logTics, [])
        let range = AxisRange([0, 1], scale: .automatic)
        XCTAssertEqual(range.low, -0.04, accuracy: 1e-12)
        XCTAssertEqual(range.high, 1.04, accuracy: 1e-12)
        XCTAssertEqual(AxisRange([2, 2], scale: .automatic).high, 2.2, accuracy: 1e-12, "one value: a range around it")
    }

    func testInfeasibleTrialsDoNotSetTheRangeAndSitOnItsEdge() {
        let trials = [
            trial(0, ["accuracy": 0.90, "flops": 100, "params": 10]),
            trial(1, ["accuracy": 0.80, "flops": 50, "params": 10]),
            trial(2, ["accuracy": 0.85, "flops": 80, "params": 5000]),        // infeasible, inside the range
            trial(3, ["accuracy": 0.99, "flops": 1e9, "params": 5000]),       // infeasible, far outside
        ]
        let s = FrontScatter(trials, objectives: analysis, x: 0, y: 1)
        XCTAssertEqual(s.ranges[1].high, 102, accuracy: 1e-9, "the feasible 50 to 100, padded 4 %: not 1e9")
        XCTAssertFalse(s.ranges[1].log)
        XCTAssertEqual(s.infeasible.map(\.trial), [2])
        XCTAssertEqual(s.clipped, [PlotPoint(trial: 3, x: s.ranges[0].high, y: s.ranges[1].high)], "moved onto the corner")
        // No feasible trial: the infeasible ones set the range.
        let none = FrontScatter([trials[2], trials[3]], objectives: analysis, x: 0, y: 1)
        XCTAssertTrue(none.front.isEmpty)
        XCTAssertEqual(none.infeasible.map(\.trial), [2, 3])
        XCTAssertTrue(none.ranges[1].log, "80 to 1e9")
    }

    func testLabelsAreTheKneeTheExtremesAndNeverOverlap() {
        let minimize = StudyObjectives(objectives: [Objective("a", .minimize), Objective("b", .minimize)])
        func t(_ n: Int, _ a: Double, _ b: Double) -> TrialRecord {
            TrialRecord(study: 1, number: n, state: .complete, parameters: [], metrics: ["a": a, "b": b],
                        started: Date(), heartbeat: Date(), worker: "w", finishSequence: Int64(n))
        }
        // 60 members on a convex front b = (1 − √a)², the knee near (0.25, 0.25); 2 pairs nearly on top of each other.
        let trials = (0 ..< 60).map { n -> TrialRecord in
            let a = Double(n) / 59
            return t(n, a, (1 - a.squareRoot()) * (1 - a.squareRoot()))
        }
        let s = FrontScatter(trials, objectives: minimize, x: 0, y: 1)
        XCTAssertEqual(s.front.count, 60)
        let labelled = s.labelled.map(\.trial)
        XCTAssertLessThanOrEqual(labelled.count, 10)
        XCTAssertGreaterThanOrEqual(labelled.count, 5)
        let knee = TrialPicker.knee(s.front.map { ($0.trial, [$0.x, $0.y]) })!
        XCTAssertEqual(Array(labelled.prefix(3)), [knee, 0, 59], "the knee first, then the best in each objective")
        for (i, p) in s.labelled.enumerated() {
            for q in s.labelled[(i + 1)...] {
                let dx = abs(s.ranges[0].fraction(p.x) - s.ranges[0].fraction(q.x))
                let dy = abs(s.ranges[1].fraction(p.y) - s.ranges[1].fraction(q.y))
                XCTAssertFalse(dx < 0.07 && dy < 0.04, "labels of \(p.trial) and \(q.trial) overlap")
            }
        }
        // Two members on the same spot: one label.
        let twins = FrontLabels.choose([PlotPoint(trial: 1, x: 0, y: 1), PlotPoint(trial: 2, x: 0.001, y: 0.999), PlotPoint(trial: 3, x: 1, y: 0)],
                                       ranges: [AxisRange([0, 1], scale: .linear), AxisRange([0, 1], scale: .linear)], first: [2], limit: 10)
        XCTAssertEqual(twins.map(\.trial), [2, 3])
    }

    func testMetricLabelsComeFromTheEvaluatorThatReportsThem() {
        let engine = EvaluatorSpec.engine(data: .object([("dataset", .string("blobs"))]), epochs: nil)
        let command = EvaluatorSpec.command(CommandSpec(argv: ["train"]))
        XCTAssertEqual(MetricLabel("latency_ms@Jetson-Orin-Nano", evaluator: engine).text, "batch-1 latency (ms) on Jetson-Orin-Nano")
        XCTAssertEqual(MetricLabel("flops", evaluator: engine).text, "FLOPs per sample (forward)")
        XCTAssertEqual(MetricLabel("accuracy", evaluator: engine).text, "accuracy (fraction of the test set)")
        XCTAssertEqual(MetricLabel("accuracy", evaluator: command).text, "accuracy", "a program's accuracy is whatever it measured")
        XCTAssertEqual(MetricLabel("my_metric", evaluator: engine).text, "my_metric")
        XCTAssertNil(MetricLabel("accuracy", evaluator: engine).profile)
    }
}
