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
        XCTAssertEqual(s.infeasible.map(\.trial), [3])
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
        XCTAssertEqual(pc.axes[1].high, "\"tanh\"")
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
