import XCTest
@testable import Parallel

/// Model-state and activation memory against the papers' worked examples.
final class MemoryModelTests: XCTestCase {
    /// Rajbhandari et al. 2019, Figure 1 / §5: Ψ = 7.5B, K = 12, Nd = 64 gives 120 GB (stage 0),
    /// 31.4 GB (stage 1), 16.6 GB (stage 2) and 1.9 GB (stage 3) per device.
    func testZeROModelStatesMatchThePaper() {
        let psi = 7.5e9
        let expected: [(Int, Double)] = [(0, 120), (1, 31.4), (2, 16.6), (3, 1.875)]
        for (stage, gb) in expected {
            let m = ModelStateMemory(parameterCount: psi, zero: stage, dataParallel: 64)
            XCTAssertEqual(m.total / 1e9, gb, accuracy: 0.06, "stage \(stage)")
        }
    }

    /// Korthikanti et al. 2022, Table 2 at a GPT-3-like layer: s = 2048, b = 1, h = 12288, a = 96, t = 8.
    func testActivationsPerLayerMatchTable2() {
        let s = 2048.0, b = 1.0, h = 12288.0, a = 96.0, t = 8.0
        let sbh = s * b * h
        func act(_ tp: Int, _ sp: Bool, _ c: ParallelPlan.Checkpointing) -> Double {
            transformerLayerActivationBytes(sequence: 2048, microBatch: 1, hidden: 12288, heads: 96, tensorParallel: tp,
                                            sequenceParallel: sp, checkpointing: c)
        }
        XCTAssertEqual(act(1, false, .none), sbh * (34 + 5 * a * s / h), accuracy: 1)
        XCTAssertEqual(act(8, false, .none), sbh * (10 + 24 / t + 5 * a * s / (h * t)), accuracy: 1)
        XCTAssertEqual(act(8, true, .none), sbh / t * (34 + 5 * a * s / h), accuracy: 1)
        XCTAssertEqual(act(8, false, .selective), sbh * (10 + 24 / t), accuracy: 1)
        XCTAssertEqual(act(8, true, .selective), sbh * 34 / t, accuracy: 1)
        XCTAssertEqual(act(8, false, .full), 2 * sbh, accuracy: 1)
    }
}
