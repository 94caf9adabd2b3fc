import XCTest
import Compression

/// Compressed candidates through `autotune eval`, and `autotune bench compression`, run for real
/// through the built executable.
final class CompressionEndToEndTests: ScratchTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private let base = #""architecture": {"family": "mlp", "widths": [32]}, "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": 5, "seed": 1, "threads": 1}, "data": {"dataset": "spirals", "samples": 400, "classes": 2}"#

    func testEvalOfACompressedRecipePrintsItsFootprint() throws {
        let path = write("r.json", """
        {\(base), "precision": "bf16",
         "compression": [{"method": "prune", "sparsity": 0.5, "epochs": 1}, {"method": "quantize", "mode": "ptq", "bits": 8}]}
        """)
        let r = runAutotune(["eval", path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["inference"] as? String, "int8")
        XCTAssertEqual((json["stages"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["train", "prune", "quantize"])
        let tensors = try XCTUnwrap((json["footprint"] as? [String: Any])?["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.first { $0["name"] as? String == "fc0.weight" }?["format"] as? String, "int8")
        XCTAssertEqual(tensors.first { $0["name"] as? String == "fc0.bias" }?["format"] as? String, "fp32")

        let table = runAutotune(["eval", path])
        XCTAssertEqual(table.status, 0, table.stderr)
        for row in ["stored KiB", "size ratio", "stage             test_acc", "candidate training"] {
            XCTAssertTrue(table.stdout.contains(row), "missing \(row) in\n\(table.stdout)")
        }
        XCTAssertTrue(table.stdout.split(separator: "\n").contains { $0.hasPrefix("inference ") && $0.hasSuffix("  int8") }, table.stdout)
    }

    func testBadRecipesExitWithTwoAndNameTheStep() {
        let cases: [(String, String)] = [
            ("{\(base), \"compression\": [{\"method\": \"quantize\"}, {\"method\": \"prune\", \"sparsity\": 0.5}]}",
             "r0.json: compression[0]: a quantize step must be the last step (its model runs inference only); move prune before it"),
            ("{\(base), \"compression\": [{\"method\": \"prun\", \"sparsity\": 0.5}]}",
             "r1.json: compression[0].method: unknown compression method 'prun'"),
            ("{\(base), \"precision\": {\"dtype\": \"fp16\", \"hysteresis\": 0}}", "r2.json: precision.hysteresis: must be ≥ 1, got 0"),
            ("{\"architecture\": {\"family\": \"mlp\", \"widths\": [1]}, \"training\": {\"optimizer\": {\"name\": \"adam\"}}, \"data\": {\"dataset\": \"spirals\"}, \"compression\": [{\"method\": \"quantize\", \"bits\": 2}]}",
             "r3.json: compression[0].per_channel: fc0: "),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let r = runAutotune(["eval", write("r\(i).json", text)])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), "expected '\(expected)' in: \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
    }

    func testEveryExampleRecipeParses() throws {
        let dir = root.appendingPathComponent("searchspaces/candidates")
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) where f.hasSuffix(".json") {
            XCTAssertNoThrow(try Recipe.load(path: dir.appendingPathComponent(f).path), f)
        }
    }

    func testBenchCompressionOnTinyIDXData() throws {
        try writeTinyFashionMNIST(to: scratch, train: 256, test: 64)
        let r = runAutotune(["bench", "compression", "--epochs", "1", "--models", "mlp", "--only", "int8_ptq,prune90,fp16,distill",
                             "--distill-seeds", "1", "--data-dir", scratch.path, "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let records = json["results"] as? [[String: Any]] ?? []
        let names = records.compactMap { $0["name"] as? String }
        for name in ["mlp.fp32.accuracy", "mlp.int8_ptq.accuracy_drop", "mlp.int8_ptq.size_ratio", "mlp.int8_ptq.speedup",
                     "mlp.prune90.size_ratio", "mlp.fp16.accuracy_drop", "mlp.fp16.skipped_steps",
                     "distill.student_accuracy", "distill.baseline_student_accuracy"] {
            XCTAssertTrue(names.contains(name), "missing \(name) in \(names)")
        }
        let ratio = records.first { $0["name"] as? String == "mlp.int8_ptq.size_ratio" }?["value"] as? Double ?? 1
        XCTAssertLessThan(ratio, 0.3, "int8 weights are a quarter of FP32, plus scales and FP32 biases")
        XCTAssertEqual(records.first { $0["name"] as? String == "mlp.int8_ptq.accuracy_drop" }?["unit"] as? String, "pt")
    }
}
