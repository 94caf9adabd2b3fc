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

    func testEvalWritesONNXPredictionsAndTestInputs() throws {
        try writeTinyFashionMNIST(to: scratch, train: 128, test: 40)
        let candidate = write("cnn.json", """
            {"architecture": {"family": "cnn", "stages": [{"channels": 4, "kernel": 3, "pool": "max"}], "head": [8]},
             "training": {"optimizer": {"name": "adam"}, "batch_size": 32, "epochs": 1, "seed": 1},
             "data": {"dataset": "fashion-mnist"}}
            """)
        let (onnx, predictions, inputs) = (scratch.appendingPathComponent("m.onnx"), scratch.appendingPathComponent("p.txt"),
                                           scratch.appendingPathComponent("x.npy"))
        let r = runAutotune(["eval", candidate, "--data-dir", scratch.path, "--threads", "1", "--json",
                             "--onnx", onnx.path, "--predictions", predictions.path, "--test-inputs", inputs.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), "stdout stays one JSON document")

        let model = try Data(contentsOf: onnx)
        XCTAssertEqual(Array(model.prefix(2)), [0x08, 0x08], "ModelProto.ir_version 8")
        XCTAssertGreaterThan(model.count, 4 * (4 * 9 + 8 * 196 + 10 * 8), "holds every weight")

        let lines = try String(contentsOf: predictions, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 41, "one class per test sample, each line ended")
        XCTAssertTrue(lines.dropLast().allSatisfy { Int($0).map { (0..<10).contains($0) } ?? false }, "\(lines)")

        let npy = try Data(contentsOf: inputs)
        XCTAssertEqual(Array(npy.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        let header = String(decoding: npy[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<f4'") && header.contains("'shape': (40, 28, 28, 1)"), header)
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(npy.count, 10 + headerLength + 40 * 28 * 28 * 4)
    }

    func testEvalOutputPathsAreCheckedBeforeTraining() {
        let candidate = root.appendingPathComponent("searchspaces/candidates/mlp-spirals.json").path
        let missing = scratch.appendingPathComponent("nope/m.onnx").path
        let r = runAutotune(["eval", candidate, "--onnx", missing])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: invalid value '\(missing)' for '--onnx': directory '\(scratch.appendingPathComponent("nope").path)' does not exist\n"
                       + "See 'autotune eval --help'.\n")
        let directory = runAutotune(["eval", candidate, "--predictions", scratch.path])
        XCTAssertEqual(directory.status, 2)
        XCTAssertTrue(directory.stderr.contains("for '--predictions': must name a file, not a directory"), directory.stderr)
        let tf32 = write("tf32.json", """
            {"architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "adam"}},
             "data": {"dataset": "spirals"}, "precision": {"dtype": "tf32"}}
            """)
        let r32 = runAutotune(["eval", tf32, "--onnx", scratch.appendingPathComponent("m.onnx").path])
        XCTAssertEqual(r32.status, 2)
        XCTAssertTrue(r32.stderr.hasSuffix("tf32.json: precision: an ONNX model cannot round activations to TF32 as the engine does; use fp32, fp16 or bf16 with --onnx\n"),
                      r32.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("m.onnx").path))
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
