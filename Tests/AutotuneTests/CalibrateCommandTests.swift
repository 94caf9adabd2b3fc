import Foundation
import XCTest

final class CalibrateCommandTests: ScratchTestCase {
    static let run18B = """
      {"name": "18.4B",
       "model": {"layers": 40, "hidden": 6144, "heads": 48, "sequence_length": 2048, "vocabulary": 51200},
       "nodes": 32, "gpus_per_node": 8, "global_batch": 1024,
       "parallelism": {"tp": 8, "micro_batch": 8, "checkpointing": "full", "flash_attention": false},
       "precision": "fp16", "tflops_per_device": 135}
    """

    /// The fitted profile is written where --out says, with the summary of the fit; estimate takes
    /// it with --hardware FILE, under its new name.
    func testCalibrateWritesAProfileEveryCommandTakes() throws {
        let runs = write("runs.json", "{\"runs\": [\(Self.run18B)]}")
        let out = scratch.appendingPathComponent("mine.json").path
        let r = runAutotune(["calibrate", runs, "--hardware", "A100-SXM-80GB", "--out", out, "--name", "a100-mine"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("fitted matmul "), r.stdout)
        XCTAssertTrue(r.stdout.contains("wrote a100-mine to \(out)"), r.stdout)
        let e = runAutotune(["estimate", "--layers", "40", "--hidden", "6144", "--heads", "48", "--seq", "2048", "--vocab", "51200",
                             "--hardware", out, "--nodes", "32", "--tp", "8", "--micro-batch", "8", "--global-batch", "1024",
                             "--checkpointing", "full", "--no-flash-attention", "--precision", "fp16", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(doc?["hardware"] as? String, "a100-mine")
        let tflops = (doc?["estimate"] as? [String: Any])?["tflops_per_device"] as? Double ?? 0
        XCTAssertEqual(tflops, 135, accuracy: 135 * 1e-3, "one run, one factor: the fit reproduces the measurement")

        let json = runAutotune(["calibrate", runs, "--hardware", "A100-SXM-80GB", "--out", out, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(report?["profile"] as? String, "A100-SXM-80GB-calibrated")
        XCTAssertEqual((report?["runs"] as? [[String: Any]])?.first?["measured"] as? Double, 135)
    }

    /// Bad input is exit 2 with one line naming the file and key path, or the option.
    func testBadInputNamesTheFileAndKeyPath() {
        let bad = write("bad.json", #"{"runs": [{"model": {"layers": 2, "hidden": 64, "heads": 4, "sequence_length": 16, "vocabulary": 100}, "nodes": 1, "global_batch": 8, "parallelism": {"tp": 3}, "step_seconds": 1}]}"#)
        var r = runAutotune(["calibrate", bad, "--hardware", "A100-SXM-80GB", "--out", scratch.appendingPathComponent("p.json").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: \(bad): runs[0].parallelism.tp: tp × pp = 3 does not divide the cluster's 8 devices (on A100-SXM-80GB)\n")
        let typo = write("typo.json", #"{"runs": [{"modle": {}}]}"#)
        r = runAutotune(["calibrate", typo, "--hardware", "A100-SXM-80GB"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: \(typo): runs[0].modle: unknown key in a measured run"), r.stderr)
        let runs = write("runs.json", "{\"runs\": [\(Self.run18B)]}")
        r = runAutotune(["calibrate", runs, "--hardware", "A100-SXM-80GB", "--fit", "matmul,speed"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: invalid value 'speed' for '--fit'"), r.stderr)
        r = runAutotune(["calibrate", runs])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--hardware"), r.stderr)
    }
}
