import Foundation
import XCTest

/// `autotune hardware list | show` through the built executable: tables, JSON, errors, help.
final class HardwareCommandTests: ScratchTestCase {
    static let builtInNames = [
        "V100-SXM2-32GB", "A100-SXM-40GB", "A100-SXM-80GB", "H100-SXM-80GB", "H200", "L4", "T4", "RTX-4090",
        "TPU-v4", "TPU-v5e", "Jetson-Orin-Nano", "Jetson-AGX-Orin", "Raspberry-Pi-5",
    ]

    private func object(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        guard let object = parsed as? [String: Any] else {
            XCTFail("not one JSON object: \(text)", file: file, line: line)
            return [:]
        }
        return object
    }

    func testListShowsEveryBuiltInAndTheHostWithoutMeasuringIt() {
        let result = runAutotune(["hardware", "list"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("name              kind  fp32    tf32   fp16    bf16   fp8     int8    memory GiB  bandwidth GB/s"), lines[0])
        XCTAssertEqual(lines.dropFirst().prefix(Self.builtInNames.count).map { String($0.prefix { $0 != " " }) }, Self.builtInNames)
        let a100 = lines.first { $0.hasPrefix("A100-SXM-80GB ") } ?? ""
        XCTAssertEqual(a100.split(separator: " ").map(String.init),
                       ["A100-SXM-80GB", "gpu", "19.5", "156", "312", "312", "—", "624", "80", "2039", "8",
                        "nvlink3", "300", "hdr-infiniband", "25", "60–400"])
        let host = lines.first { $0.hasPrefix("host ") } ?? ""
        XCTAssertTrue(host.contains("measured on demand"), host)
    }

    func testListJSONIsOneDocumentOfProfiles() {
        let result = runAutotune(["hardware", "list", "--json"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        let profiles = object(result.stdout)["profiles"] as? [[String: Any]] ?? []
        XCTAssertEqual(profiles.compactMap { $0["name"] as? String }, Self.builtInNames)
        for p in profiles {
            XCTAssertFalse((p["sources"] as? [String] ?? []).isEmpty, "\(p["name"] ?? "")")
            XCTAssertNotNil((p["peak_tflops"] as? [String: Double])?["fp32"], "\(p["name"] ?? "")")
        }
    }

    func testListCalibrateAddsTheMeasuredHost() {
        let result = runAutotune(["hardware", "list", "--json", "--calibrate"])
        XCTAssertEqual(result.status, 0)
        let profiles = object(result.stdout)["profiles"] as? [[String: Any]] ?? []
        XCTAssertEqual(profiles.last?["name"] as? String, "host")
        XCTAssertEqual(profiles.last?["kind"] as? String, "cpu")
    }

    func testShowPrintsEveryFieldTheFallbacksAndTheSources() {
        let result = runAutotune(["hardware", "show", "a100-sxm-80gb"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        let text = result.stdout
        for expected in ["  name              A100-SXM-80GB\n", "  memory            80 GiB at 2039 GB/s\n",
                         "  power             60 W idle, 400 W peak\n",
                         "  intra-node link   nvlink3, 300 GB/s per direction, 3 µs\n",
                         "  fp16    312\n", "  fp8     → fp16 312\n", "  int2    → int4 1248\n",
                         "  price             $5.1207 per device-hour\n",
                         "  price source      AWS p4de.24xlarge on-demand list price, us-east-1, 2024: $40.9657/h ÷ 8 A100-SXM4-80GB\n",
                         "\nsources\n  - NVIDIA A100 Tensor Core GPU datasheet (2021)"] {
            XCTAssertTrue(text.contains(expected), expected)
        }
    }

    func testShowLeavesThePriceOutForADeviceOneBuys() {
        let result = runAutotune(["hardware", "show", "Jetson-Orin-Nano"])
        XCTAssertEqual(result.status, 0)
        XCTAssertFalse(result.stdout.contains("price"), result.stdout)
        let json = runAutotune(["hardware", "show", "Jetson-Orin-Nano", "--json"])
        XCTAssertNil(object(json.stdout)["price_per_hour_usd"])
    }

    func testShowJSONIsTheProfileAndReadsBackAsAFile() throws {
        let result = runAutotune(["hardware", "show", "H100-SXM-80GB", "--json"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        let profile = object(result.stdout)
        XCTAssertEqual(profile["name"] as? String, "H100-SXM-80GB")
        XCTAssertEqual((profile["peak_tflops"] as? [String: Double])?["bf16"], 989.4)
        XCTAssertEqual((profile["interconnect"] as? [String: Any])?["devices_per_node"] as? Int, 8)
        XCTAssertEqual(profile["price_per_hour_usd"] as? Double, 12.29)
        XCTAssertEqual(profile["price_source"] as? String, "AWS p5.48xlarge on-demand list price, us-east-1, 2024: $98.32/h ÷ 8 H100-SXM-80GB")
        let path = write("h100.json", result.stdout)
        let again = runAutotune(["hardware", "show", path, "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, result.stdout)
    }

    func testShowHostMeasuresThisMachine() {
        let result = runAutotune(["hardware", "show", "host", "--json"])
        XCTAssertEqual(result.status, 0)
        let profile = object(result.stdout)
        XCTAssertEqual(profile["name"] as? String, "host")
        XCTAssertEqual((profile["peak_tflops"] as? [String: Double])?.keys.sorted(), ["fp32"])
    }

    func testShowHostNamesTheKernelSetItRuns() {
        let result = runAutotune(["hardware", "show", "host"])
        XCTAssertEqual(result.status, 0)
        let line = result.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("kernels ") }
        XCTAssertNotNil(line, result.stdout)
        XCTAssertTrue(line?.contains("this CPU runs: portable") ?? false, String(line ?? ""))
        XCTAssertTrue(result.stdout.contains("Kernels: the engine's C kernels (int8 GEMM) run the "), result.stdout)
    }

    func testUnknownNameIsOneLineAndExitsWith2() {
        let result = runAutotune(["hardware", "show", "a100-sxm-8gb"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr, "autotune: error: unknown hardware profile 'a100-sxm-8gb' (valid: "
                       + (Self.builtInNames + ["host"]).joined(separator: ", ") + "). Did you mean 'A100-SXM-80GB'?\n")
    }

    func testBadProfileFileNamesTheFileAndKeyPath() {
        let path = write("mine.json", #"{"name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}, "efficiency": {"matmul": 1.5}}"#)
        let result = runAutotune(["hardware", "show", path])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr, "autotune: error: \(path): efficiency.matmul: must be a fraction in (0, 1], got 1.5\n")
        let missing = runAutotune(["hardware", "show", "nope.json"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "autotune: error: nope.json: no such file\n")
    }

    func testHelp() {
        let group = runAutotune(["hardware", "--help"])
        XCTAssertEqual(group.status, 0)
        XCTAssertTrue(group.stdout.hasPrefix("OVERVIEW: List the hardware profiles, or show one"), group.stdout)
        XCTAssertTrue(group.stdout.contains("USAGE: autotune hardware SUBCOMMAND\n"), group.stdout)
        XCTAssertTrue(group.stdout.contains("SUBCOMMANDS:\n  list "), group.stdout)
        XCTAssertTrue(group.stdout.contains("\n  show "), group.stdout)
        let show = runAutotune(["hardware", "show", "--help"])
        XCTAssertEqual(show.status, 0)
        XCTAssertEqual(show.stdout, runAutotune(["help", "hardware", "show"]).stdout)
        XCTAssertTrue(show.stdout.contains("USAGE: autotune hardware show NAME|FILE [--json]\n"), show.stdout)
        XCTAssertTrue(show.stdout.contains("ARGUMENTS:\n  NAME|FILE "), show.stdout)
        let list = runAutotune(["hardware", "list", "--help"])
        XCTAssertTrue(list.stdout.contains("USAGE: autotune hardware list [--json] [--calibrate]\n"), list.stdout)
        XCTAssertTrue(runAutotune(["--help"]).stdout.contains("\n  hardware "))
        for text in [group.stdout, show.stdout, list.stdout] {
            for line in text.split(separator: "\n") where !line.hasPrefix("USAGE:") {
                XCTAssertLessThanOrEqual(line.count, 80, String(line))
            }
        }
    }

    func testUsageErrors() {
        let missing = runAutotune(["hardware", "show"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "autotune: error: missing argument 'NAME|FILE'\nSee 'autotune hardware show --help'.\n")
        let typo = runAutotune(["hardware", "lst"])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.hasPrefix("autotune: error: unknown command 'lst'. Did you mean 'list'?\n"), typo.stderr)
    }
}
