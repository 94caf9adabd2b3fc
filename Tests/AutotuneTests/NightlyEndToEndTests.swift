import Foundation
import XCTest

/// `autotune bench nightly` end to end on its quickest parts (the cost model and the search
/// overhead): history, verdicts and exit codes, a failed run kept but never a baseline.
final class NightlyEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("history.sqlite").path }

    private func nightly(_ extra: [String] = []) -> (status: Int32, stdout: String, stderr: String) {
        runAutotune(["bench", "nightly", "--quick", "--only", "costmodel", "--db", db] + extra)
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testHistoryGrowsAndVerdictsFollowTheRule() throws {
        let first = nightly()
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("costmodel.megatron.throughput_mape"), first.stdout)
        XCTAssertTrue(first.stdout.contains("run #1 against no earlier complete run of 'nightly --quick --only costmodel' on this host"), first.stdout)
        for _ in 0 ..< 2 { XCTAssertEqual(nightly().status, 0) }
        let fourth = try json(nightly(["--json"]).stdout)
        XCTAssertEqual(fourth["run"] as? Int, 4)
        XCTAssertEqual(fourth["baseline_runs"] as? [Int], [3, 2, 1])
        let rows = try XCTUnwrap(fourth["comparisons"] as? [[String: Any]])
        XCTAssertEqual(rows.first?["verdict"] as? String, "ok", "the cost model is deterministic: no change")
        XCTAssertEqual(rows.first?["change"] as? Double, 0)
        let page = try String(contentsOfFile: scratch.appendingPathComponent("history/nightly/index.html").path, encoding: .utf8)
        XCTAssertTrue(page.contains("autotune nightly, run #4"))
        XCTAssertTrue(page.contains("<figure id=\"trend-costmodel\"><svg"), "the trend drawn inline")

        // Against one commit's run: git knows no such commit here, so there is none.
        let compared = nightly(["--compare", "0000000"])
        XCTAssertEqual(compared.status, 2)
        XCTAssertTrue(compared.stderr.contains("no complete 'nightly --quick --only costmodel' run of commit '0000000'"), compared.stderr)
    }

    func testAFailedPartKeepsTheRunAsFailedAndItIsNoBaseline() throws {
        let data = scratch.appendingPathComponent("fashion")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try writeTinyFashionMNIST(to: data, train: 64, test: 32)
        func run(_ directory: URL, _ extra: [String] = []) -> (status: Int32, stdout: String, stderr: String) {
            runAutotune(["bench", "nightly", "--quick", "--only", "costmodel,engine", "--db", db, "--data-dir", directory.path] + extra)
        }
        let first = run(data)
        XCTAssertEqual(first.status, 0, first.stderr)
        let failed = run(scratch.appendingPathComponent("no-such-dir"))
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("nightly part 'engine' failed:"), failed.stderr)
        XCTAssertTrue(failed.stderr.contains("(run 2 kept as FAILED with the parts before it)"), failed.stderr)
        let next = try json(run(data, ["--json"]).stdout)
        XCTAssertEqual(next["run"] as? Int, 3)
        XCTAssertEqual(next["baseline_runs"] as? [Int], [1], "run 2 failed, so only run 1 is a baseline")
    }

    func testBadOptions() {
        let part = runAutotune(["bench", "nightly", "--only", "engin", "--db", db])
        XCTAssertEqual(part.status, 2)
        XCTAssertTrue(part.stderr.contains("engin"), part.stderr)
        let threshold = nightly(["--threshold", "-1"])
        XCTAssertEqual(threshold.status, 2)
        XCTAssertTrue(threshold.stderr.contains("--threshold"), threshold.stderr)
        let compare = nightly(["--compare", ""])
        XCTAssertEqual(compare.status, 2)
        XCTAssertTrue(compare.stderr.contains("--compare"), compare.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "bad options touch no store")
    }
}
