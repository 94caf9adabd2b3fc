import Foundation
import XCTest

/// `autotune estimate` and `autotune bench costmodel` through the built executable.
final class EstimateCommandTests: ScratchTestCase {
    static let gpt3 = ["--layers", "96", "--hidden", "12288", "--heads", "96", "--seq", "2048", "--vocab", "51200"]

    func testGPT3On1024GPUs() {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--nodes", "128", "--tp", "8", "--pp", "8",
                                                        "--zero", "1", "--global-batch", "1536", "--checkpointing", "full"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { String($0.prefix(12)) },
                       ["model       ", "cluster     ", "plan        ", "FLOPs       ", "parameters  ", "memory      ",
                        "step time   ", "throughput  ", "energy      "])
        XCTAssertEqual(lines[1], "cluster     128 × 8 A100-SXM-80GB (1024 devices)")
        XCTAssertTrue(lines[2].hasPrefix("plan        dp 16 × tp 8 × pp 8, ZeRO 1, micro-batch 1 × 96 per step, global batch 1536"), lines[2])
        XCTAssertTrue(lines[0].contains("174.62G parameters"), lines[0])
    }

    func testJSONIsOneDocument() throws {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "H100-SXM-80GB", "--nodes", "64", "--tp", "8", "--pp", "4",
                                                        "--global-batch", "512", "--micro-batch", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let estimate = doc?["estimate"] as? [String: Any]
        XCTAssertEqual(doc?["hardware"] as? String, "H100-SXM-80GB")
        XCTAssertEqual((estimate?["plan"] as? [String: Any])?["dp"] as? Int, 16)
        XCTAssertNotNil((estimate?["time"] as? [String: Any])?["compute"])
        XCTAssertNotNil((estimate?["memory"] as? [String: Any])?["activations"])
    }

    func testAPlanThatDoesNotFitSaysSo() {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--gpus-per-node", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("INFEASIBLE  needs "), r.stdout)
    }

    func testBadInput() {
        let small = ["--layers", "2", "--hidden", "32", "--heads", "4", "--seq", "8", "--vocab", "10"]
        var r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--tp", "3"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: invalid value '3' for '--tp': tp × pp = 3 does not divide the cluster's 8 devices\nSee 'autotune estimate --help'.\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--tp", "8"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: tp: 8 does not divide the 4 attention heads\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "a100"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasSuffix("Did you mean 'A100-SXM-40GB'?\n"), r.stderr)
        r = runAutotune(["estimate", "--layers", "2", "--hidden", "30", "--heads", "4", "--seq", "8", "--vocab", "10", "--hardware", "L4"])
        XCTAssertEqual(r.stderr, "autotune: error: model: --heads: 4 does not divide hidden 30\n")
        XCTAssertEqual(r.status, 2)
        r = runAutotune(["estimate", "--hardware", "L4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: missing value for '--layers'"), r.stderr)
        r = runAutotune(["estimate", "nope.json", "--hardware", "L4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: nope.json: no such file\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--precision", "fp12"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("invalid value 'fp12' for '--precision'"), r.stderr)
    }

    func testCostModelBenchmarkRecordsItsError() throws {
        let r = runAutotune(["bench", "costmodel", "--no-calibrate", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let results = doc?["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.compactMap { $0["name"] as? String }, ["megatron.throughput_mape"])
        let mape = results.first?["value"] as? Double ?? -1
        XCTAssertGreaterThan(mape, 0)
        XCTAssertEqual(results.first?["unit"] as? String, "%")
    }
}
