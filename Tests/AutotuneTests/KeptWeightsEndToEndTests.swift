import Foundation
import XCTest

/// Kept weights through the built executable: a compressed study run by two workers keeps files
/// for its front members only and exports them without training; `keep_weights` false keeps
/// nothing; a bad `keep_weights` is one line with the file and key path, exit 2; a pytorch export
/// carries them, and its script tests them to the accuracy the study stored.
final class KeptWeightsEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }

    private func space(_ name: String, _ extra: String) -> String {
        write("\(name).json", """
        {"name": "\(name)",
         "architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[8], [16, 8]]}, "norm": "batch"},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": 1, "seed": 1},
         "compression": {"_type": "choice", "_value": [
            [],
            [{"method": "quantize", "mode": "ptq", "bits": 8}],
            [{"method": "lowrank", "rank": 3, "epochs": 1}, {"method": "quantize", "mode": "dynamic", "bits": 8}],
            [{"method": "prune_channels", "ratio": 0.5, "epochs": 1}]]},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 300, "classes": 3, "dimensions": 5}}},
         "objectives": {"accuracy": "maximize", "stored_kib": "minimize"},
         "strategy": "grid", "seed": 2\(extra)}
        """)
    }

    private func frontMembers(_ study: String) throws -> [Int] {
        let front = runAutotune(["front", study, "--db", db, "--json"])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(front.stdout.utf8)) as? [String: Any])
        return try XCTUnwrap(doc["front"] as? [[String: Any]]).compactMap { $0["trial"] as? Int }.sorted()
    }

    private func keptFiles(_ study: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("\(study)/weights").path)) ?? []).sorted()
    }

    func testACompressedStudyKeepsItsFrontAndExportsItWithoutTraining() throws {
        let search = runAutotune(["search", space("squeeze", #", "workers": 2"#), "--db", db, "--quiet", "--threads", "1"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        let front = try frontMembers("squeeze")
        XCTAssertFalse(front.isEmpty)
        XCTAssertEqual(keptFiles("squeeze"), front.map { "trial-\($0).weights" })
        for number in front {
            let out = scratch.appendingPathComponent("m\(number).onnx").path
            let r = runAutotune(["export", "squeeze", "--db", db, "--format", "onnx", "--trial", String(number), "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stderr, "", "trial \(number) is exported from its kept weights")
            XCTAssertTrue(r.stdout.contains("trial \(number) of study 'squeeze' exported from its kept weights (no training)\n"), r.stdout)
        }
        // A damaged file counts as not kept: the trial is trained again, to the same model.
        let number = try XCTUnwrap(front.first)
        let file = scratch.appendingPathComponent("squeeze/weights/trial-\(number).weights")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: file)
        let out = scratch.appendingPathComponent("again.onnx").path
        let again = runAutotune(["export", "squeeze", "--db", db, "--format", "onnx", "--trial", String(number), "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stderr, "autotune: note: trial \(number)'s weights are not kept (\(file.path): the checksum does not match "
                                     + "(the file is damaged or cut short)): training it again from its recipe\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: scratch.appendingPathComponent("m\(number).onnx")))
    }

    func testKeepingSwitchedOffKeepsNothing() throws {
        let search = runAutotune(["search", space("plain", #", "budget": 2, "keep_weights": false"#), "--db", db, "--quiet", "--threads", "1"],
                                 in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(keptFiles("plain"), [])
        let r = runAutotune(["export", "plain", "--db", db, "--format", "onnx", "--trial", "0", "--out", scratch.appendingPathComponent("p.onnx").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "autotune: note: trial 0's weights are not kept (no file \(scratch.path)/plain/weights/trial-0.weights; "
                                 + "keep_weights is false): training it again from its recipe\n")
    }

    func testABadKeepWeightsSettingIsOneLineWithItsKeyPath() {
        let path = space("bad", #", "keep_weights": {"max_mib": 0}"#)
        let r = runAutotune(["search", path, "--db", db, "--quiet"], in: scratch)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: \(path): keep_weights.max_mib: must be ≥ 1, got 0\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "bad input leaves no store behind")
    }

    /// A python that imports torch: python3 on PATH, or the check-export environment
    /// (`$EXPORT_VENV`, by default ~/.cache/autotune/export-venv).
    private func pythonWithTorch() -> (executable: URL, prefix: [String])? {
        let venv = ProcessInfo.processInfo.environment["EXPORT_VENV"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/autotune/export-venv").path
        for (executable, prefix) in [("/usr/bin/env", ["python3"]), (venv + "/bin/python", [])] {
            let url = URL(fileURLWithPath: executable)
            if let r = try? runProgram(url, prefix + ["-c", "import torch"]), r.status == 0 { return (url, prefix) }
        }
        return nil
    }

    /// A CNN with batch norm, a residual and a depthwise-separable stage, trained by a study and
    /// exported as pytorch: `train.py --evaluate-kept` tests the kept weights in PyTorch to the
    /// study's stored accuracy (the same weights and test data; only float rounding differs).
    func testAPyTorchExportEvaluatesTheKeptWeightsToTheStoredAccuracy() throws {
        guard let python = pythonWithTorch() else {
            throw XCTSkip("PyTorch is not installed (neither python3 nor the check-export environment imports torch): train.py is not run")
        }
        try writeTinyFashionMNIST(to: scratch, train: 400, test: 300)
        let space = write("convs.json", """
        {"name": "convs",
         "architecture": {"family": "cnn", "head": [16], "stages": [
            {"channels": 4, "batchnorm": true, "pool": "max"},
            {"channels": 6, "blocks": 2, "residual": true, "batchnorm": true, "pool": "max"},
            {"channels": 8, "depthwise": true}]},
         "training": {"optimizer": {"name": "adam", "lr": {"_type": "choice", "_value": [0.003]}}, "batch_size": 32, "epochs": 1, "seed": 1},
         "evaluator": {"engine": {"data": {"dataset": "fashion-mnist", "dir": "\(scratch.path)"}}},
         "objectives": {"accuracy": "maximize", "params": "minimize"},
         "strategy": "random", "budget": 1, "seed": 2}
        """)
        let search = runAutotune(["search", space, "--db", db, "--quiet", "--threads", "1"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        let folder = scratch.appendingPathComponent("job")
        let export = runAutotune(["export", "convs", "--db", db, "--format", "pytorch", "--out", folder.path, "--json"], in: scratch)
        XCTAssertEqual(export.status, 0, export.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        let stored = try XCTUnwrap((doc["objectives"] as? [String: Any])?["accuracy"] as? Double)
        XCTAssertEqual(doc["notes"] as? [String],
                       ["kept_weights.npz holds trial 0's kept weights: 'python train.py --evaluate-kept' tests them, '--init-kept' trains from them"])
        XCTAssertTrue((doc["files"] as? [String])?.contains(folder.appendingPathComponent("kept_weights.npz").path) == true, export.stdout)
        let readme = try String(contentsOf: folder.appendingPathComponent("README.txt"), encoding: .utf8)
        XCTAssertTrue(readme.contains("kept_weights.npz: the weights the study kept for trial 0, as Model's state_dict"), readme)

        let run = try runProgram(python.executable, python.prefix + ["train.py", "--evaluate-kept"], in: folder)
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "the parameter count and the test accuracy, no training: \(run.stdout)")
        let accuracy = try XCTUnwrap(lines.last.flatMap { $0.hasPrefix("test_accuracy ") ? Double($0.dropFirst(14)) : nil }, run.stdout)
        XCTAssertEqual(accuracy, stored, accuracy: 0.002, "PyTorch on the kept weights vs the study's stored test accuracy")
        XCTAssertGreaterThan(stored, 0.2, "a trained model, not chance (10 classes)")
    }
}
