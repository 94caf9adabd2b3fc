import Engine
import Hardware
import Parallel
import XCTest
@testable import Bench

final class CalibrationOnMegatronTests: XCTestCase {
    /// Calibrated on two rows of Megatron-LM's Table 1 (18.4B and 145.6B: a platform team's two
    /// measured configurations), the profile predicts the other eight rows: each within the
    /// calibration target of 5%, and no row more than 2 points worse than under the factors fitted
    /// to all ten rows — two rows must carry what ten do.
    func testTwoRowsPredictTheRest() throws {
        let bench = CostModelBenchmark()
        let a100 = try ProfileLibrary.profile(named: "A100-SXM-80GB")
        var traces: [String: TransformerTrace] = [:]
        let rows = PublishedThroughput.megatronTable1
        let measured = rows.filter { ["18.4B", "145.6B"].contains($0.name) }
        let heldOut = rows.filter { !["18.4B", "145.6B"].contains($0.name) }
        let chosen = try bench.predict(measured, on: a100, traces: &traces)
        let runs = chosen.map { p in
            MeasuredRun(name: p.row.name, model: p.row.model, nodes: p.row.gpus / 8, gpusPerNode: 8, globalBatch: p.row.batch,
                        plan: p.row.plan(microBatch: p.microBatch), precision: .fp16, metric: .tflopsPerDevice, measured: p.row.published)
        }
        let twoRow = try Calibration.fit(runs, on: a100, factors: [.matmul]).profile
        for run in try Calibration.fit(runs, on: a100, factors: [.matmul]).runs {
            XCTAssertEqual(run.after, run.measured, accuracy: run.measured * 0.02, "the two measured rows are fitted")
        }
        let allRows = try bench.fit(a100, rows: rows, traces: &traces)
        let predicted = try bench.predict(heldOut, on: twoRow, traces: &traces)
        let reference = try bench.predict(heldOut, on: allRows, traces: &traces)
        for (p, r) in zip(predicted, reference) {
            XCTAssertLessThanOrEqual(p.errorPercent, 5, p.row.name)
            XCTAssertLessThanOrEqual(p.errorPercent, r.errorPercent + 2, p.row.name)
        }
        XCTAssertLessThanOrEqual(CostModelBenchmark.mape(predicted), 5)
    }
}
