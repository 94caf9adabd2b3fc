import Foundation
import Search
import Store
import XCTest
@testable import autotune

/// The text a person reads during and after a search: the progress line and trial cells.
final class StudyViewTests: XCTestCase {
    func testProgressLine() {
        var p = StudyRunner.Progress(finished: 12, total: 50, failed: 1, pruned: 2, best: 0.87123, hypervolume: nil,
                                     elapsed: 60, deadline: nil)
        XCTAssertEqual(ProgressLine.text(p), "trials 12/50 · 1 failed · 2 pruned · best 0.8712 · 3m10s left")
        p.stale = 1
        XCTAssertEqual(ProgressLine.text(p), "trials 12/50 · 1 failed · 2 pruned · 1 stale · best 0.8712 · 3m10s left")
        p.stale = 0
        p.best = nil
        p.hypervolume = 0.5
        p.failed = 0
        p.pruned = 0
        p.total = nil
        p.deadline = Date().addingTimeInterval(7200.4)
        XCTAssertEqual(ProgressLine.text(p), "trials 12 · hypervolume 0.5000 · 2h00m left")
        XCTAssertEqual(ProgressLine.duration(59.6), "1m00s")
        // A resumed study: 14 of 25 done, 3 of them in this run's 6 s: 11 to go at 2 s each.
        let resumed = StudyRunner.Progress(finished: 14, total: 25, failed: 0, pruned: 0, best: nil, hypervolume: nil,
                                           elapsed: 6, finishedThisRun: 3, deadline: nil)
        XCTAssertEqual(ProgressLine.text(resumed), "trials 14/25 · 22s left")
    }

    func testParameterCellShortensNamesOnlyWhereUnambiguous() {
        let t = TrialRecord(study: 1, number: 0, state: .complete, parameters: [
            ParameterRecord(name: "architecture.family", value: 1, json: "\"cnn\""),
            ParameterRecord(name: "architecture.stages[0].channels", value: 8, json: "8"),
            ParameterRecord(name: "architecture.stages[1].channels", value: 16, json: "16"),
            ParameterRecord(name: "training.optimizer.lr", value: 0.0012345678, json: "0.0012345678"),
        ], started: Date(), heartbeat: Date(), worker: "w")
        XCTAssertEqual(parameterCell(t), "family=\"cnn\" stages[0].channels=8 stages[1].channels=16 lr=0.001235")
        XCTAssertEqual(parameterCell(t, limit: 30), "family=\"cnn\" … (3 more)")
    }
}
