import Foundation
import Search
import Store
import XCTest
@testable import Report

/// Parallel coordinates readable at 1280 px: panels, tick labels, axis names, inactive parameters.
final class ParallelCoordinatesTests: XCTestCase {
    let objectives = StudyObjectives(objectives: [Objective("accuracy", .maximize), Objective("params", .minimize)])

    func space(_ json: String) throws -> SearchSpace {
        try SpaceFile.parse(Data(json.utf8), file: "space.json").space
    }

    func trial(_ n: Int, _ parameters: [(String, Double)], accuracy: Double = 0.8, params: Double = 100) -> TrialRecord {
        TrialRecord(study: 1, number: n, state: .complete, parameters: parameters.map { ParameterRecord(name: $0.0, value: $0.1, json: "\($0.1)") },
                    metrics: ["accuracy": accuracy, "params": params], started: Date(), heartbeat: Date(), worker: "w", finishSequence: Int64(n))
    }

    func testPanelsHoldAtMostTwelveAxesEachWithTheObjectives() throws {
        let fields = (0 ..< 30).map { "\"x\($0)\": {\"_type\": \"uniform\", \"_value\": [0, 1]}" }.joined(separator: ", ")
        let wide = try space(#"{"evaluator": {"command": {"run": "true"}}, "objectives": {"accuracy": "maximize", "params": "minimize"}, "training": {"# + fields + "}}")
        let pc = ParallelCoordinates([trial(0, [("training.x0", 0.5)])], space: wide, objectives: objectives)
        XCTAssertEqual(pc.axes.count, 32)
        let panels = pc.panels(maxAxes: 12)
        XCTAssertEqual(panels.map(\.count), [12, 12, 12], "30 parameters in three panels of 10, each with both objectives")
        XCTAssertEqual(panels.flatMap { $0.prefix(10) }, Array(0 ..< 30), "every parameter once, in the space's order")
        for panel in panels { XCTAssertEqual(Array(panel.suffix(2)), [30, 31]) }
        XCTAssertEqual(pc.panels(maxAxes: 40), [Array(0 ..< 32)], "one panel when everything fits")
        XCTAssertEqual(pc.panels(maxAxes: 11).map(\.count), [10, 10, 10, 8], "9 parameters a panel at most: four panels, as even as they split")
    }

    func testChoiceLabelsAreFewAndShortEnoughNeverToOverprint() throws {
        let options = (0 ..< 20).map { "\"option-with-a-long-name-\($0)\"" }.joined(separator: ", ")
        let s = try space(#"{"evaluator": {"command": {"run": "true"}}, "objectives": {"accuracy": "maximize", "params": "minimize"}, "#
            + #""training": {"many": {"_type": "choice", "_value": ["# + options + #"]}, "#
            + #""optimizer": {"_type": "choice", "_value": [{"name": "adam", "lr": 0.001}, {"name": "sgd", "lr": 0.1}]}, "#
            + #""epochs": {"_type": "randint", "_value": [1, 100]}, "layers": {"_type": "randint", "_value": [1, 5]}}}"#)
        let axes = ParallelCoordinates([], space: s, objectives: objectives).axes
        let many = axes[0].ticks
        XCTAssertLessThanOrEqual(many.count, ParallelCoordinates.labelsPerAxis)
        XCTAssertEqual(many.first?.position, s.dimensions[0].domain.unit(of: 0))
        XCTAssertEqual(many.last?.position, s.dimensions[0].domain.unit(of: 19), "the last option always labelled")
        XCTAssertTrue(many.allSatisfy { $0.label.count <= ParallelCoordinates.labelLength }, "\(many.map(\.label))")
        XCTAssertEqual(many.first?.label, "option-with…")
        let gaps = zip(many, many.dropFirst()).map { $1.position - $0.position }
        XCTAssertGreaterThanOrEqual(gaps.min() ?? 1, 1.0 / Double(ParallelCoordinates.labelsPerAxis), "labels spaced apart")
        XCTAssertEqual(axes[1].ticks.map(\.label), ["adam", "sgd"], "an option object by its name, not its JSON")
        XCTAssertEqual(axes[2].ticks.map(\.label), ["1", "99"], "a wide integer range (randint excludes its upper bound): its ends")
        XCTAssertEqual(axes[3].ticks.map(\.label), ["1", "2", "3", "4"], "a small one: every value")
    }

    func testAxesHaveUniqueKeyPathsAndInactiveParametersHaveNoValue() throws {
        let s = try space(#"""
            {"evaluator": {"command": {"run": "true"}}, "objectives": {"accuracy": "maximize", "params": "minimize"},
             "training": {"optimizer": {"_type": "choice", "_value": [
                 {"name": "adam", "lr": {"_type": "uniform", "_value": [0, 1]}},
                 {"name": "sgd", "lr": {"_type": "uniform", "_value": [0, 10]}, "momentum": {"_type": "uniform", "_value": [0, 1]}}]}}}
            """#)
        let sgd = trial(0, [("training.optimizer", 1), ("training.optimizer.lr", 5), ("training.optimizer.momentum", 0.5)])
        let adam = trial(1, [("training.optimizer", 0), ("training.optimizer.lr", 0.25)], accuracy: 0.9)
        let pc = ParallelCoordinates([sgd, adam], space: s, objectives: objectives)
        XCTAssertEqual(pc.axes.map(\.name), ["training.optimizer", "training.optimizer[adam].lr", "training.optimizer[sgd].lr",
                                             "training.optimizer.momentum", "accuracy", "params"])
        XCTAssertEqual(Set(pc.axes.map(\.name)).count, pc.axes.count)
        let bySGD = try XCTUnwrap(pc.lines.first { $0.trial == 0 }).values
        XCTAssertNil(bySGD[1], "adam's lr is inactive for an sgd trial")
        XCTAssertEqual(bySGD[2] ?? -1, 0.5, accuracy: 1e-12, "sgd's lr, 5 of 0 to 10")
        let byAdam = try XCTUnwrap(pc.lines.first { $0.trial == 1 }).values
        XCTAssertEqual(byAdam[1] ?? -1, 0.25, accuracy: 1e-12)
        XCTAssertNil(byAdam[2])
        XCTAssertNil(byAdam[3], "momentum lives under sgd")
    }
}
