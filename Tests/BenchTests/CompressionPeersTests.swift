import Engine
import Foundation
import XCTest
@testable import Bench

/// `bench compression --peers` hands ONNX Runtime's script the exported model and the run's
/// settings, and reads its records back; a failing script is an error with its last stderr lines.
final class CompressionPeersTests: XCTestCase {
    func testScriptGetsTheExportedModelAndTheRunsSettings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("compression-peers-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("peer.py"), seen = directory.appendingPathComponent("seen.json")
        // The fake peer records its arguments and the model file's size and first byte (an ONNX
        // ModelProto starts with field 1, ir_version, as a varint: tag 0x08).
        try """
        import json, os, sys
        args = sys.argv[1:]
        model = args[args.index("--model") + 1]
        with open(model, "rb") as f:
            first = f.read(1)
        json.dump({"args": args, "size": os.path.getsize(model), "first": first[0]}, open(\(String(reflecting: seen.path)), "w"))
        print("peer ran on", args[args.index("--name") + 1], file=sys.stderr)
        json.dump({"results": [{"suite": "peers", "name": "mlp.ort_int8.latency_b1_ms", "value": 0.25,
                                "unit": "ms", "better": "lower"}], "host": {"peer": "fake"}}, sys.stdout)
        """.write(to: script, atomically: true, encoding: .utf8)
        let model = try Model(spec: .mlp(MLPSpec(widths: [6])), inputShape: [4], classes: 3, context: ExecutionContext(), seed: 3)
        var lines: [String] = []
        let records = try CompressionPeers(script: script.path).run(model, name: "mlp", batches: [1, 4], threads: 2,
                                                                    calibrationSamples: 512, percentile: 99.9,
                                                                    dataDirectory: "/data/fmnist", progress: { lines.append($0) })
        XCTAssertEqual(records, [BenchRecord(suite: "peers", name: "mlp.ort_int8.latency_b1_ms", value: 0.25, unit: "ms", better: .lower)])
        XCTAssertTrue(lines.contains("peer ran on mlp"), "\(lines)")

        struct Seen: Decodable { var args: [String]; var size: Int; var first: Int }
        let s = try JSONDecoder().decode(Seen.self, from: Data(contentsOf: seen))
        func value(_ flag: String) -> String? { s.args.firstIndex(of: flag).map { s.args[$0 + 1] } }
        XCTAssertEqual(s.args.first, "--json")
        XCTAssertEqual(value("--name"), "mlp")
        XCTAssertEqual(value("--threads"), "2")
        XCTAssertEqual(value("--batches"), "1,4")
        XCTAssertEqual(value("--calibration-samples"), "512")
        XCTAssertEqual(value("--percentile"), "99.9")
        XCTAssertEqual(value("--data-dir"), "/data/fmnist")
        XCTAssertEqual(s.args.contains("--reduce-range"), KernelSet.best != .avx512vnni)
        XCTAssertGreaterThan(s.size, 4 * (4 * 6 + 6 * 3), "the model file holds at least the float weights")
        XCTAssertEqual(s.first, 0x08)
        let modelPath = try XCTUnwrap(value("--model"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelPath), "the exported model is removed after the run")
    }

    func testAFailingScriptIsAnErrorWithItsLastLines() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("compression-peers-bad-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("bad.py")
        try "import sys\nprint('onnxruntime is missing', file=sys.stderr)\nsys.exit(4)\n".write(to: script, atomically: true, encoding: .utf8)
        let model = try Model(spec: .mlp(MLPSpec(widths: [2])), inputShape: [3], classes: 2, context: ExecutionContext(), seed: 1)
        XCTAssertThrowsError(try CompressionPeers(script: script.path).run(model, name: "mlp", batches: [1], threads: 1,
                                                                           calibrationSamples: 8, percentile: 99,
                                                                           dataDirectory: nil, progress: nil)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("status 4") && text.contains("onnxruntime is missing"), text)
        }
    }
}
