import Engine
import Foundation
import XCTest
@testable import Hardware

/// The built-in library, name lookup, peak fallbacks, and the exact one-line errors of bad files.
final class HardwareProfileTests: XCTestCase {
    static let expectedNames = [
        "V100-SXM2-32GB", "A100-SXM-40GB", "A100-SXM-80GB", "H100-SXM-80GB", "H200", "L4", "T4", "RTX-4090",
        "TPU-v4", "TPU-v5e", "Jetson-Orin-Nano", "Jetson-AGX-Orin", "Raspberry-Pi-5",
    ]
    /// The smallest valid profile, for files whose error lies in one added key.
    static let minimal = #""name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}"#
    static let topLevelKeys = "name, kind, sources, efficiency, power, interconnect, peak_tflops, memory_gib, memory_bandwidth_gbs, launch_overhead_us, price_per_hour_usd, price_source, flash_attention"
    static let formats = "fp32, tf32, fp16, bf16, fp8, int8, int4, int2, binary, int32"

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hardware-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func write(_ name: String, _ text: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// A profile that must never be used: lookups that are not `host` must not calibrate.
    private static func noCalibration() -> HardwareProfile {
        XCTFail("the host calibration ran")
        return ProfileLibrary.builtIn[0]
    }

    // MARK: The built-in library

    func testEveryBuiltInDecodesThroughTheUserFileDecoder() throws {
        XCTAssertEqual(BuiltinProfiles.documents.count, Self.expectedNames.count)
        for (document, name) in zip(BuiltinProfiles.documents, Self.expectedNames) {
            let profile = try decodeJSONConfig(HardwareProfile.self, from: Data(document.utf8), file: name)
            XCTAssertEqual(profile.name, name)
        }
        XCTAssertEqual(ProfileLibrary.builtIn.map(\.name), Self.expectedNames)
        XCTAssertEqual(ProfileLibrary.names, Self.expectedNames + ["host"])
    }

    func testNamesAreUniqueWhateverTheCase() {
        let lowered = ProfileLibrary.names.map { $0.lowercased() }
        XCTAssertEqual(Set(lowered).count, lowered.count)
    }

    func testEveryBuiltInCitesItsSourcesAndHasSaneFigures() {
        for p in ProfileLibrary.builtIn {
            XCTAssertFalse(p.sources.isEmpty, p.name)
            XCTAssertTrue(p.sources.allSatisfy { !$0.isEmpty }, p.name)
            XCTAssertGreaterThan(p.peakFLOPS(.fp32), 0, p.name)
            XCTAssertGreaterThan(p.power.peak, p.power.idle, p.name)
            // A lower precision is never slower than a higher one where both have units.
            if let fp16 = p.peakTFLOPS[.fp16], let fp32 = p.peakTFLOPS[.fp32] { XCTAssertGreaterThanOrEqual(fp16, fp32, p.name) }
            if let int8 = p.peakTFLOPS[.int8], let fp32 = p.peakTFLOPS[.fp32] { XCTAssertGreaterThanOrEqual(int8, fp32, p.name) }
            if p.interconnect.devicesPerNode == 1 { XCTAssertNil(p.interconnect.intraNode, p.name) }
        }
    }

    func testDenseFiguresFromTheDatasheets() throws {
        let h100 = try ProfileLibrary.profile(named: "H100-SXM-80GB", calibrateHost: Self.noCalibration)
        XCTAssertEqual(h100.peakTFLOPS[.bf16], 989.4)     // 1979 with sparsity, halved
        XCTAssertEqual(h100.peakTFLOPS[.fp8], 1978.9)
        let h200 = try ProfileLibrary.profile(named: "H200", calibrateHost: Self.noCalibration)
        XCTAssertEqual(h200.memoryGiB, 141e9 / 1_073_741_824, accuracy: 0.05)
        let pi = try ProfileLibrary.profile(named: "Raspberry-Pi-5", calibrateHost: Self.noCalibration)
        XCTAssertEqual(pi.peakFLOPS(.fp32), 4 * 2.4e9 * 16, accuracy: 1)
        let nano = try ProfileLibrary.profile(named: "Jetson-Orin-Nano", calibrateHost: Self.noCalibration)
        XCTAssertEqual(nano.peakFLOPS(.fp32), 1024 * 2 * 0.625e9, accuracy: 1)
        XCTAssertEqual(nano.peakTFLOPS[.int8], 20)        // 40 with sparsity, halved
    }

    /// Rented devices carry a price per device-hour with its source; bought ones carry none.
    func testDataCentreProfilesArePricedPerDeviceHourWithASource() throws {
        let priced: [String: Double] = [
            "V100-SXM2-32GB": 31.212 / 8, "A100-SXM-40GB": 32.7726 / 8, "A100-SXM-80GB": 40.9657 / 8, "H100-SXM-80GB": 98.32 / 8,
            "L4": 0.8048, "T4": 0.526, "TPU-v4": 3.22, "TPU-v5e": 1.20,
        ]
        for p in ProfileLibrary.builtIn {
            if let expected = priced[p.name] {
                // An instance's on-demand price over the devices it holds, to the listed precision.
                XCTAssertEqual(try XCTUnwrap(p.pricePerHourUSD, p.name), expected, accuracy: 0.0001, p.name)
                let source = try XCTUnwrap(p.priceSource, p.name)
                XCTAssertTrue(source.contains("on-demand list price") && source.contains("2024"), source)
            } else {
                XCTAssertNil(p.pricePerHourUSD, p.name)
                XCTAssertNil(p.priceSource, p.name)
            }
        }
        XCTAssertEqual(Set(ProfileLibrary.builtIn.filter { $0.pricePerHourUSD == nil }.map(\.name)),
                       ["H200", "RTX-4090", "Jetson-Orin-Nano", "Jetson-AGX-Orin", "Raspberry-Pi-5"])
    }

    /// FlashAttention is the stack default on the GPUs FlashAttention-2 runs on (Ampere, Ada,
    /// Hopper), and off elsewhere and in a file that does not say.
    func testFlashAttentionIsTheDefaultWhereTheStacksUseIt() throws {
        XCTAssertEqual(Set(ProfileLibrary.builtIn.filter(\.flashAttention).map(\.name)),
                       ["A100-SXM-40GB", "A100-SXM-80GB", "H100-SXM-80GB", "H200", "L4", "RTX-4090"])
        let file = #"{"name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}}"#
        XCTAssertFalse(try decodeJSONConfig(HardwareProfile.self, from: Data(file.utf8), file: "x.json").flashAttention)
    }

    func testBuiltInsSurviveAnEncodeDecodeRoundTrip() throws {
        for p in ProfileLibrary.builtIn {
            let data = try JSONEncoder().encode(p)
            XCTAssertEqual(try decodeJSONConfig(HardwareProfile.self, from: data, file: p.name), p)
        }
    }

    // MARK: Peaks and their fallbacks

    /// The training formats each built-in device has units for, from the vendors' datasheets:
    /// FP8 only from Hopper and Ada (H100, H200, L4, RTX 4090); no BF16 or TF32 on Volta (V100) or
    /// Turing (T4); TPUs multiply in BF16, not FP16.
    func testTrainingFormatsAreTheDatasheets() throws {
        func formats(_ name: String) throws -> [String] {
            try ProfileLibrary.profile(named: name, calibrateHost: Self.noCalibration).trainingFormats.map(\.rawValue)
        }
        XCTAssertEqual(try formats("V100-SXM2-32GB"), ["fp32", "fp16"])
        XCTAssertEqual(try formats("T4"), ["fp32", "fp16"])
        XCTAssertEqual(try formats("A100-SXM-80GB"), ["fp32", "tf32", "fp16", "bf16"])
        XCTAssertEqual(try formats("A100-SXM-40GB"), ["fp32", "tf32", "fp16", "bf16"])
        for name in ["H100-SXM-80GB", "H200", "L4", "RTX-4090"] {
            XCTAssertEqual(try formats(name), ["fp32", "tf32", "fp16", "bf16", "fp8"], name)
        }
        XCTAssertEqual(try formats("TPU-v4"), ["fp32", "bf16"])
        XCTAssertEqual(try formats("Jetson-AGX-Orin"), ["fp32", "tf32", "fp16", "bf16"])
    }

    func testPeakFallbacks() throws {
        let a100 = try ProfileLibrary.profile(named: "A100-SXM-80GB", calibrateHost: Self.noCalibration)
        XCTAssertEqual(a100.executedDType(.fp8), .fp16)
        XCTAssertEqual(a100.peakFLOPS(.fp8), 312e12)
        XCTAssertEqual(a100.executedDType(.int2), .int4)
        XCTAssertEqual(a100.peakFLOPS(.int32), 19.5e12)
        let tpu = try ProfileLibrary.profile(named: "TPU-v4", calibrateHost: Self.noCalibration)
        XCTAssertEqual(tpu.executedDType(.fp16), .bf16)
        XCTAssertEqual(tpu.peakFLOPS(.fp16), 275e12)
        XCTAssertEqual(tpu.executedDType(.tf32), .fp32)
        let v100 = try ProfileLibrary.profile(named: "V100-SXM2-32GB", calibrateHost: Self.noCalibration)
        XCTAssertEqual(v100.executedDType(.tf32), .fp32)
        XCTAssertEqual(v100.peakFLOPS(.tf32), 15.7e12)
        XCTAssertEqual(v100.executedDType(.bf16), .fp32)            // no BF16 units: emulated in FP32
        XCTAssertEqual(v100.peakFLOPS(.bf16), 15.7e12)
    }

    func testAnFP32OnlyProfileRunsEveryFormatAtItsFP32Peak() {
        let cpu = HardwareProfile(name: "c", kind: .cpu, sources: [], peakTFLOPS: [.fp32: 0.05], memoryGiB: 1,
                                  memoryBandwidthGBs: 10, launchOverheadMicroseconds: 1, power: .init(idle: 1, peak: 2),
                                  interconnect: .init(devicesPerNode: 1, intraNode: nil, interNode: nil, hostLink: nil, hostMemoryGiB: 0))
        for dtype in DType.allCases {
            XCTAssertEqual(cpu.executedDType(dtype), .fp32, dtype.rawValue)
            XCTAssertEqual(cpu.peakFLOPS(dtype), 0.05e12, accuracy: 1, dtype.rawValue)
        }
    }

    // MARK: Looking profiles up

    func testBuiltInNamesAreFoundWhateverTheCase() throws {
        XCTAssertEqual(try ProfileLibrary.profile(named: "a100-sxm-80gb", calibrateHost: Self.noCalibration).name, "A100-SXM-80GB")
        XCTAssertEqual(try ProfileLibrary.profile(named: "TPU-V4", calibrateHost: Self.noCalibration).name, "TPU-v4")
    }

    func testHostAsksTheCalibration() throws {
        var asked = 0
        let fake = ProfileLibrary.builtIn[12]
        let found = try ProfileLibrary.profile(named: "Host", calibrateHost: { asked += 1; return fake })
        XCTAssertEqual(asked, 1)
        XCTAssertEqual(found, fake)
    }

    func testUnknownNameListsTheValidOnesAndSuggestsTheClosest() {
        XCTAssertThrowsError(try ProfileLibrary.profile(named: "a100-sxm-8gb", calibrateHost: Self.noCalibration)) { error in
            XCTAssertTrue(error is ConfigError)
            XCTAssertEqual("\(error)", "unknown hardware profile 'a100-sxm-8gb' (valid: "
                           + (Self.expectedNames + ["host"]).joined(separator: ", ") + "). Did you mean 'A100-SXM-80GB'?")
        }
        XCTAssertThrowsError(try ProfileLibrary.profile(named: "quantum", calibrateHost: Self.noCalibration)) { error in
            XCTAssertFalse("\(error)".contains("Did you mean"), "\(error)")
        }
    }

    func testAUserFileLoadsByPath() throws {
        let path = try write("cluster.json", """
            {"name": "my-gpu", "kind": "gpu", "sources": ["measured"],
             "peak_tflops": {"fp32": 20, "bf16": 300}, "memory_gib": 48, "memory_bandwidth_gbs": 900,
             "power": {"idle": 30, "peak": 300},
             "interconnect": {"devices_per_node": 4, "intra_node": {"kind": "pcie4", "bandwidth_gbs": 25}},
             "price_per_hour_usd": 1.75, "price_source": "my cloud's list price, 2024"}
            """)
        let p = try ProfileLibrary.profile(named: path, calibrateHost: Self.noCalibration)
        XCTAssertEqual(p.name, "my-gpu")
        XCTAssertEqual(p.pricePerHourUSD, 1.75)
        XCTAssertEqual(p.priceSource, "my cloud's list price, 2024")
        XCTAssertEqual(try decodeJSONConfig(HardwareProfile.self, from: try JSONEncoder().encode(p), file: "again"), p)
        XCTAssertEqual(p.peakFLOPS(.fp16), 300e12)                 // fp16 → bf16
        XCTAssertEqual(p.efficiency, HardwareProfile.Efficiency())  // defaults
        XCTAssertEqual(p.launchOverheadMicroseconds, 0)
        XCTAssertEqual(p.interconnect.intraNode?.latencyMicroseconds, 0)
        XCTAssertNil(p.interconnect.interNode)
        // A relative path with a slash, or any name ending in .json, is a file too.
        XCTAssertTrue(ProfileLibrary.isPath("./x"))
        XCTAssertTrue(ProfileLibrary.isPath("x.json"))
        XCTAssertFalse(ProfileLibrary.isPath("A100-SXM-80GB"))
    }

    // MARK: Bad files: the exact one-line error, naming the file and the key path

    func testBadFilesGiveOneLineErrorsNamingTheKeyPath() throws {
        let m = Self.minimal
        let corpus: [(String, String)] = [
            (#"{\#(m), "memory_gb": 80}"#,
             "memory_gb: unknown key in a hardware profile (valid: \(Self.topLevelKeys)). Did you mean 'memory_gib'?"),
            (#"{"name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": -5, "power": {"idle": 1, "peak": 2}}"#,
             "memory_bandwidth_gbs: must be a positive number, got -5.0"),
            (#"{\#(m), "efficiency": {"matmul": 1.5}}"#, "efficiency.matmul: must be a fraction in (0, 1], got 1.5"),
            (#"{\#(m), "efficiency": {"matmull": 0.5}}"#,
             "efficiency.matmull: unknown key in efficiency (valid: matmul, matmul_half_intensity, vector, memory, network). Did you mean 'matmul'?"),
            (#"{"name": "X", "kind": "gpu", "peak_tflops": {"fp9": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}}"#,
             "peak_tflops.fp9: unknown format 'fp9' (valid: \(Self.formats)). Did you mean 'fp8'?"),
            (#"{"name": "X", "kind": "gpu", "peak_tflops": {}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}}"#,
             "peak_tflops: give the peak of at least one format"),
            (#"{"name": "X", "kind": "npu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 1, "peak": 2}}"#,
             "kind: unknown device kind 'npu' (valid: gpu, tpu, edge, cpu). Did you mean 'gpu'?"),
            (#"{"name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "memory_bandwidth_gbs": 10, "power": {"idle": 5, "peak": 2}}"#,
             "power.peak: 2.0 W is below the idle power 5.0 W"),
            (#"{\#(m), "interconnect": {"intra_node": {"kind": "pcie4", "bandwidth_gbs": 0}}}"#,
             "interconnect.intra_node.bandwidth_gbs: must be a positive number, got 0.0"),
            (#"{\#(m), "interconnect": {"devices_per_node": 0}}"#, "interconnect.devices_per_node: must be at least 1, got 0"),
            (#"{\#(m), "price_per_hour_usd": -2.5}"#, "price_per_hour_usd: must be a positive number, got -2.5"),
            (#"{\#(m), "price_per_hour_usd": 0, "price_source": "free"}"#, "price_per_hour_usd: must be a positive number, got 0.0"),
            (#"{\#(m), "price_source": "AWS, 2024"}"#, "price_source: names the source of a price, but price_per_hour_usd is not given"),
            (#"{\#(m), "price_per_hour": 2}"#,
             "price_per_hour: unknown key in a hardware profile (valid: \(Self.topLevelKeys)). Did you mean 'price_per_hour_usd'?"),
            (#"{"name": "X", "kind": "gpu", "peak_tflops": {"fp32": 1}, "memory_gib": 1, "power": {"idle": 1, "peak": 2}}"#,
             "memory_bandwidth_gbs: missing required key"),
            ("{\n  \"name\": \"X\",\n  \"kind\": \"gpu\" \"x\"\n}", "line 3, column 17: malformed JSON (expected ',' or '}')"),
        ]
        for (index, (text, reason)) in corpus.enumerated() {
            let path = try write("bad\(index).json", text)
            XCTAssertThrowsError(try ProfileLibrary.profile(named: path, calibrateHost: Self.noCalibration), text) { error in
                XCTAssertEqual("\(error)", "\(path): \(reason)", text)
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }

    func testMissingFile() {
        let path = scratch.appendingPathComponent("nope.json").path
        XCTAssertThrowsError(try ProfileLibrary.profile(named: path, calibrateHost: Self.noCalibration)) { error in
            XCTAssertEqual(error as? InputFileError, InputFileError(file: path, reason: "no such file"))
        }
    }

    // MARK: The host

    func testHostCalibrationMeasuresThisMachineQuickly() {
        let start = Date()
        let host = HostCalibration.measure()
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)   // < 1 s on any desktop; slack for CI
        XCTAssertEqual(host.name, "host")
        XCTAssertEqual(host.kind, .cpu)
        XCTAssertEqual(Array(host.peakTFLOPS.keys), [.fp32])
        XCTAssertGreaterThan(host.peakFLOPS(.fp32), 1e8)
        XCTAssertEqual(host.executedDType(.bf16), .fp32)
        XCTAssertGreaterThan(host.memoryBandwidthGBs, 0.5)
        XCTAssertGreaterThan(host.memoryGiB, 0.1)
        XCTAssertNil(host.pricePerHourUSD)                      // the machine here is not rented by the hour
        XCTAssertTrue(host.sources[0].contains("\(ProcessInfo.processInfo.activeProcessorCount) cores"), host.sources[0])
        // What it measured is a valid profile file.
        let data = try? JSONEncoder().encode(host)
        XCTAssertEqual(data.flatMap { try? decodeJSONConfig(HardwareProfile.self, from: $0, file: "host") }, host)
    }

    func testCopyBandwidthAndSgemmPeakArePositive() {
        XCTAssertGreaterThan(copyBandwidthGBs(bytes: 1 << 20, threads: 2, repeats: 1), 0)
        XCTAssertGreaterThan(sgemmPeakGFLOPS(threads: 1, size: 64, repeats: 1), 0)
    }
}
