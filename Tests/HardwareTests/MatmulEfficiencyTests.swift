import Engine
import XCTest
@testable import Hardware

final class MatmulEfficiencyTests: XCTestCase {
    /// eff(I) = matmul · I / (I + half): 0.8 · 150 / 200 = 0.6; half 0 is the constant.
    func testSaturatingFormByHand() {
        let e = HardwareProfile.Efficiency(matmul: 0.8, matmulHalfIntensity: 50)
        XCTAssertEqual(e.matmul(intensity: 150), 0.6, accuracy: 1e-12)
        XCTAssertEqual(e.matmul(intensity: 50), 0.4, accuracy: 1e-12)
        XCTAssertEqual(e.matmul(intensity: .infinity), 0.8)
        XCTAssertEqual(HardwareProfile.Efficiency(matmul: 0.8).matmul(intensity: 1), 0.8)
    }

    /// A 1024 × 64 × 1024 FP16 product: 2·1024·64·1024 = 134,217,728 FLOPs on
    /// 2·(1024·64 + 64·1024 + 1024·1024) = 2,359,296 bytes, intensity 65,536/1,152 = 56.89 FLOP/B.
    /// At a half intensity of a third of that it runs at 0.8 · 3/4 = 0.6 of a 100 TFLOP/s peak:
    /// 134,217,728 / 6·10¹³ = 2.237 µs.
    func testRooflineTimesAThinProductAtItsOwnEfficiency() throws {
        let profile = HardwareProfile(name: "t", kind: .gpu, sources: [], peakTFLOPS: [.fp16: 100], memoryGiB: 80,
                                      memoryBandwidthGBs: 1e6, efficiency: .init(matmul: 0.8, matmulHalfIntensity: 65_536.0 / 1_152 / 3, memory: 1),
                                      launchOverheadMicroseconds: 0, power: .init(idle: 0, peak: 1),
                                      interconnect: .init(devicesPerNode: 1, intraNode: nil, interNode: nil, hostLink: nil, hostMemoryGiB: 0))
        let event = OpEvent(name: "x", kind: .matmul, phase: .forward, dtype: .fp16, flops: 2 * 1024 * 64 * 1024,
                            bytesRead: 2 * (1024 * 64 + 64 * 1024), bytesWritten: 2 * 1024 * 1024)
        XCTAssertEqual(Roofline(profile: profile).seconds(event), 134_217_728 / (0.6 * 100e12), accuracy: 1e-15)
        // A non-matmul op keeps the vector efficiency.
        var vector = event
        vector.kind = .elementwise
        XCTAssertEqual(Roofline(profile: profile).parts(vector).compute, 134_217_728 / (0.5 * 100e12), accuracy: 1e-15)
    }

    /// The factor is read from and written to a profile file; a negative one is refused with its key path.
    func testHalfIntensityInAProfileFile() throws {
        let base = #"{"name": "x", "kind": "gpu", "peak_tflops": {"fp16": 100}, "memory_gib": 1, "memory_bandwidth_gbs": 1, "power": {"idle": 0, "peak": 1}"#
        let p = try decodeJSONConfig(HardwareProfile.self, from: Data((base + #", "efficiency": {"matmul": 0.75, "matmul_half_intensity": 40}}"#).utf8), file: "p.json")
        XCTAssertEqual(p.efficiency.matmulHalfIntensity, 40)
        let again = try decodeJSONConfig(HardwareProfile.self, from: try JSONEncoder().encode(p), file: "again.json")
        XCTAssertEqual(again, p)
        XCTAssertThrowsError(try decodeJSONConfig(HardwareProfile.self, from: Data((base + #", "efficiency": {"matmul_half_intensity": -1}}"#).utf8), file: "p.json")) {
            XCTAssertEqual(String(describing: $0), "p.json: efficiency.matmul_half_intensity: must be zero or more, got -1.0")
        }
    }
}
