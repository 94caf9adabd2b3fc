import Engine
import Foundation
import XCTest
@testable import Search

/// The engine evaluator alone: a candidate trained on a small synthetic set, its learning curve,
/// its metrics, the epoch cap and the sections it refuses.
final class EngineEvaluatorTests: XCTestCase {
    private let data: JSONValue = .object([("dataset", .string("blobs")), ("samples", .number(200)), ("classes", .number(3))])

    private func candidate(epochs: Int, extra: [(String, JSONValue)] = []) throws -> JSONValue {
        let base = try JSONValue(parsing: """
        {"architecture": {"family": "mlp", "widths": [16]},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": \(epochs), "seed": 1, "threads": 1}}
        """)
        return .object((base.members ?? []) + extra.map { JSONValue.Member($0.0, $0.1) })
    }

    func testTrainsReportsEachEpochAndMeasuresTheModel() throws {
        let evaluator = EngineEvaluator(data: data, epochs: 2, threads: 1)
        var steps: [Int] = []
        let r = try evaluator.evaluate(try candidate(epochs: 5), parameters: []) { step, metrics in
            steps.append(step)
            XCTAssertNotNil(metrics["accuracy"]); XCTAssertNotNil(metrics["params"])
            return true
        }
        XCTAssertEqual(steps, [1, 2], "the evaluator's cap of 2 epochs wins over the candidate's 5")
        // An MLP 2-16-3 has 2·16 + 16 + 16·3 + 3 = 99 parameters.
        XCTAssertEqual(r.metrics["params"], 99)
        XCTAssertGreaterThan(r.metrics["accuracy"] ?? 0, 1.0 / 3, "better than chance on separable blobs")
        XCTAssertFalse(r.stoppedEarly)
        for name in SpaceFile.engineMetrics where name != "validation_accuracy" {
            XCTAssertNotNil(r.metrics[name], "\(name) is reported")
        }
    }

    func testStopsWhenTheReportSaysSo() throws {
        let evaluator = EngineEvaluator(data: data, epochs: 4, threads: 1)
        let r = try evaluator.evaluate(try candidate(epochs: 4), parameters: []) { step, _ in step < 2 }
        XCTAssertTrue(r.stoppedEarly)
    }

    func testRefusesAParallelPlanAndUnknownSections() throws {
        let evaluator = EngineEvaluator(data: data, epochs: 1)
        XCTAssertThrowsError(try evaluator.evaluate(try candidate(epochs: 1, extra: [("parallelism", .object([("dp", .number(2))]))]),
                                                    parameters: []) { _, _ in true }) {
            XCTAssertTrue("\($0)".hasPrefix("parallelism: the engine evaluator"), "\($0)")
        }
        XCTAssertThrowsError(try evaluator.evaluate(try candidate(epochs: 1, extra: [("optimiser", .object([JSONValue.Member]()))]),
                                                    parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "optimiser: not a section the engine evaluator knows")
        }
    }

    func testRecipeDecodesWithoutTextAndNamesTheKeyOfAWrongType() throws {
        let bad = try JSONValue(parsing: #"{"architecture": {"family": "mlp", "widths": [16]}, "training": {"optimizer": {"name": "adam", "lr": "fast"}}}"#)
        XCTAssertThrowsError(try EngineEvaluator.recipe(bad, data: data, epochs: nil)) {
            XCTAssertTrue("\($0)".hasPrefix("training.optimizer.lr: "), "\($0)")
        }
        let (document, recipe) = try EngineEvaluator.recipe(try candidate(epochs: 3), data: data, epochs: nil)
        XCTAssertEqual(recipe.candidate.training.epochs, 3)
        XCTAssertEqual(document["data"], data)
    }
}
