import XCTest
import Engine

/// `autotune eval` and `autotune bench engine` run for real through the built executable.
final class EvalEndToEndTests: ScratchTestCase {
    /// The repository root (where searchspaces/ lives), from this file's path.
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testEvalPrintsOneJSONDocument() throws {
        let r = runAutotune(["eval", root.appendingPathComponent("searchspaces/candidates/mlp-spirals.json").path, "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["status"] as? String, "completed")
        XCTAssertGreaterThan(json["test_accuracy"] as? Double ?? 0, 0.8)
        XCTAssertEqual((json["epochs"] as? [Any])?.count, 30)
        XCTAssertEqual(json["parameters"] as? Int, 2 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2)
        let trace = try XCTUnwrap(json["step_trace"] as? [String: Any])
        XCTAssertNotNil((trace["by_kind"] as? [String: Any])?["matmul"], "traces encode kinds as object keys")
    }

    func testEvalTable() {
        let r = runAutotune(["eval", root.appendingPathComponent("searchspaces/candidates/gpt-markov.json").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for row in ["status               completed", "test accuracy", "parameters", "flops per sample", "epoch  train_loss"] {
            XCTAssertTrue(r.stdout.contains(row), "missing \(row) in\n\(r.stdout)")
        }
    }

    func testLongLearningCurvesAreSampledInTheTable() {
        let r = runAutotune(["eval", root.appendingPathComponent("searchspaces/candidates/mlp-spirals.json").path, "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        XCTAssertEqual(rows.count, 16, "every 2nd of 30 epochs, then the last")
        XCTAssertTrue(rows.last?.hasPrefix("30 ") == true, r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("(16 of 30 epochs shown; --json lists every one)\n"), r.stdout)
    }

    func testEveryExampleCandidateParses() throws {
        let dir = root.appendingPathComponent("searchspaces/candidates")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 5)
        for f in files where !f.contains("-compressed") && !f.contains("-distilled") {
            XCTAssertNoThrow(try Candidate.load(path: dir.appendingPathComponent(f).path), f)
        }
    }

    func testBadCandidatesExitWithTwoAndOneLine() {
        let arch = #""architecture": {"family": "mlp", "widths": [8]}"#
        let train = #""training": {"optimizer": {"name": "adam"}}"#
        let cases: [(String, String)] = [
            ("{\(arch), \(train), \"data\": {\"dataset\": \"spirals\", \"samples\": 5}}", "data.samples: must be ≥ 10, got 5"),
            ("{\"architecture\": {\"family\": \"vit\", \"patch\": 2, \"dim\": 6, \"depth\": 1, \"heads\": 4}, \(train), \"data\": {\"dataset\": \"spirals\"}}",
             "architecture.family: vit needs image input [H, W, C], the data has samples of shape [2]"),
            ("{\(arch), \(train), \"data\": {\"dataset\": \"fashion-mnist\", \"dir\": \"/nonexistent-dir\"}}",
             "/nonexistent-dir/train-images-idx3-ubyte"),
            ("{\(arch), \(train),\n \"data\": {\"dataset\": spirals}}", "line 2, column 22: malformed JSON"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let path = write("c\(i).json", text)
            let r = runAutotune(["eval", path])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("autotune: error: "), r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), "expected '\(expected)' in: \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        let missing = runAutotune(["eval", scratch.appendingPathComponent("nope.json").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasSuffix("nope.json: no such file\n"), missing.stderr)
    }

    func testBenchEngineOnTinyIDXData() throws {
        // A tiny IDX data set in the Fashion-MNIST layout, so the benchmark runs end to end quickly.
        try writeTinyFashionMNIST(to: scratch, train: 256, test: 64)
        let r = runAutotune(["bench", "engine", "--epochs", "1", "--only", "mlp", "--data-dir", scratch.path, "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let names = (json["results"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(names, ["sgemm.gflops", "mlp.epoch_seconds", "mlp.test_accuracy", "mlp.gflops",
                               "mlp.gflops_fraction_of_peak", "mlp.samples_per_second", "mlp.peak_mib"])
        XCTAssertNotNil((json["host"] as? [String: Any])?["openblas"])
    }
}
