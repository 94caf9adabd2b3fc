import XCTest
@testable import Parallel

/// Model-state and activation memory against the papers' worked examples.
final class MemoryModelTests: XCTestCase {
    /// Rajbhandari et al. 2019, Figure 1 / §5: Ψ = 7.5B, K = 12, Nd = 64 gives 120 GB (stage 0),
    /// 31.4 GB (stage 1), 16.6 GB (stage 2) and 1.9 GB (stage 3) per device. DeepSpeed also keeps
    /// an FP32 gradient partition, 4Ψ/Nd = 0.469 GB, beside the 16-bit gradients in stages 1 and 2
    /// and in place of the 16-bit partition (2Ψ/Nd = 0.234 GB) in stage 3: + 0.234 GB.
    func testZeROModelStatesMatchThePaperPlusTheFP32GradientPartition() {
        let psi = 7.5e9
        let expected: [(Int, Double)] = [(0, 120), (1, 31.406 + 0.469), (2, 16.641 + 0.469), (3, 1.875 + 0.234)]
        for (stage, gb) in expected {
            let m = ModelStateMemory(parameterCount: psi, zero: stage, dataParallel: 64)
            XCTAssertEqual(m.total / 1e9, gb, accuracy: 0.001, "stage \(stage)")
        }
    }

    /// Rows of the bench's DeepSpeed memory table worked by hand from DeepSpeed 0.19's formulas
    /// (GPU bytes; Ψ parameters, L the largest layer, N GPUs):
    /// ZeRO-2: 2Ψ + 18Ψ/N, offloaded 2Ψ. ZeRO-3: 4L + 18Ψ/N, optimizer offloaded 4L + 2Ψ/N,
    /// parameters too 4L.
    func testModelStatesEqualDeepSpeedsEstimatorsOnWorkedRows() {
        func ours(_ psi: Double, _ largest: Double, _ zero: Int, _ n: Int, _ offload: StateOffload) -> Double {
            ModelStateMemory(parameterCount: psi, largestLayerParameters: largest, zero: zero, dataParallel: n, offload: offload).total
        }
        let l13 = 50_257.0 * 2048, l175 = 50_257.0 * 12288     // 102,926,336 and 617,558,016
        // 1.3B on 1 node × 8: 2.6e9 + 18 × 1.3e9 / 8 = 2.6e9 + 2.925e9.
        XCTAssertEqual(ours(1.3e9, l13, 2, 8, .none), 5_525_000_000)
        // 1.3B on 4 nodes × 8, ZeRO-3, optimizer offloaded: 4 × 102,926,336 + 2 × 1.3e9 / 32.
        XCTAssertEqual(ours(1.3e9, l13, 3, 32, .optimizer), 411_705_344 + 81_250_000)
        // 175B on 16 nodes × 8, ZeRO-3: 4 × 617,558,016 + 18 × 175e9 / 128.
        XCTAssertEqual(ours(175e9, l175, 3, 128, .none), 2_470_232_064 + 24_609_375_000)
        // 175B, everything offloaded: the gathered layer alone.
        XCTAssertEqual(ours(175e9, l175, 3, 128, .optimizerAndParameters), 2_470_232_064)
        // 70B on one GPU, ZeRO-2 with the optimizer offloaded: the 16-bit weights, 2Ψ.
        XCTAssertEqual(ours(70e9, 32_000 * 8192, 2, 1, .optimizer), 140e9)
    }

    /// ZeRO-1 is stage 2 with the 16-bit gradients whole: 2Ψ + 2Ψ + 16Ψ/N, and with the optimizer
    /// offloaded 2Ψ + 2Ψ; what leaves the device is on the host: 16Ψ/N per rank.
    func testZeRO1KeepsWholeGradientsAndOffloadMovesTheFP32States() {
        let m = ModelStateMemory(parameterCount: 1e9, zero: 1, dataParallel: 8)
        XCTAssertEqual(m.parameters, 2e9); XCTAssertEqual(m.gradients, 2e9 + 0.5e9); XCTAssertEqual(m.optimizerStates, 1.5e9)
        XCTAssertEqual(m.total, 6e9); XCTAssertEqual(m.host, 0)
        let offloaded = ModelStateMemory(parameterCount: 1e9, zero: 1, dataParallel: 8, offload: .optimizer)
        XCTAssertEqual(offloaded.total, 4e9); XCTAssertEqual(offloaded.host, 2e9)
        // ZeRO-3 with the parameters offloaded too: their 16-bit partition, 2Ψ/N, on the host as well.
        let both = ModelStateMemory(parameterCount: 1e9, largestLayerParameters: 1e6, zero: 3, dataParallel: 8, offload: .optimizerAndParameters)
        XCTAssertEqual(both.total, 4e6); XCTAssertEqual(both.host, 2e9 + 0.25e9)
        // FP32 training keeps no separate FP32 gradient copy: 4Ψ + 4Ψ/N + 8Ψ/N under ZeRO-2.
        let fp32 = ModelStateMemory(parameterCount: 1e9, zero: 2, dataParallel: 8, weightBytes: 4, gradientBytes: 4, optimizerBytes: 8)
        XCTAssertEqual(fp32.total, 4e9 + 0.5e9 + 1e9)
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
