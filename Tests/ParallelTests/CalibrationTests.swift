import Engine
import Foundation
import Hardware
import XCTest
@testable import Parallel

final class CalibrationTests: XCTestCase {
    /// A column-parallel product over t = 4 ranks: (b·s = 8, h = 16) × (16, 64), FP16. Whole:
    /// 2·8·16·64 = 16,384 FLOPs, reads 2·(8·16 + 16·64) = 2,304 bytes, writes 2·8·64 = 1,024.
    /// A rank: 4,096 FLOPs; the input (256 bytes) whole, the rest a quarter: 256 + (3,328 − 256)/4
    /// = 1,024 bytes — intensity 4 FLOP/B where `shard` would leave it at 16,384/3,328 ≈ 4.92.
    func testTensorParallelShardKeepsTheActivationWhole() {
        let e = OpEvent(name: "block0.mlp.fc", kind: .matmul, phase: .forward, dtype: .fp16, flops: 16_384, bytesRead: 2_304, bytesWritten: 1_024)
        let r = e.tensorParallelShard(4, replicatedBytes: 256)
        XCTAssertEqual(r.flops, 4_096)
        XCTAssertEqual(r.bytesRead + r.bytesWritten, 1_024, accuracy: 1e-9)
        XCTAssertEqual(r.bytesRead / r.bytesWritten, 2_304 / 1_024, accuracy: 1e-12)
        // Attention's core splits whole heads, every operand a quarter; so does a non-matmul op.
        var core = e
        core.name = "block0.attn.scores"
        XCTAssertEqual(core.tensorParallelShard(4, replicatedBytes: 256), core.shard(4))
        var norm = e
        norm.kind = .normalization
        XCTAssertEqual(norm.tensorParallelShard(4, replicatedBytes: 256), norm.shard(4))
        XCTAssertEqual(e.tensorParallelShard(1, replicatedBytes: 256), e)
    }

    /// rᵢ = (aᵢ/e − mᵢ)/mᵢ is linear in x = 1/e: rᵢ = cᵢx − 1 with cᵢ = aᵢ/mᵢ, so least squares
    /// gives x* = Σcᵢ / Σcᵢ². With a = (1, 2, 3), m = (2.2, 3.8, 6.1): c = (0.4545…, 0.5263…,
    /// 0.4918…), x* = 1.47266…/0.72549… = 2.02989…, e* = 0.49264…
    func testLeastSquaresByHand() {
        let a = [1.0, 2, 3], m = [2.2, 3.8, 6.1]
        let c = zip(a, m).map { $0 / $1 }
        let expected = c.reduce(0, +) / c.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(1 / expected, 0.49264, accuracy: 1e-5)
        let fit = EfficiencyFit.leastSquares(HardwareProfile.Efficiency(matmul: 0.9), factors: [.matmul]) { e in
            zip(a, m).map { ($0 / e.matmul - $1) / $1 }
        }
        XCTAssertEqual(fit.efficiency.matmul, 1 / expected, accuracy: 1e-6)
        XCTAssertEqual(fit.efficiency.vector, 0.5, "a factor not fitted stays")
    }

    /// One device where only arithmetic costs time (no launch overhead, a memory a million times
    /// faster than the arithmetic, one device so no communication): the step is T(e) = F/(P·e) + C
    /// with F the matrix products' FLOPs, by hand for a GPT without recomputation:
    /// l·3·(24bsh² + 4bs²h) + 3·2bshV (forward, and twice that backward; the tied LM head) plus
    /// the forward bias adds the products absorb, l·9bsh, and C
    /// the rest at the vector rate. A run measured at T(0.5) fits matmul = 0.5.
    func testCalibrationRecoversAKnownFactor() throws {
        let (l, h, a, s, v, b) = (2, 64, 4, 16, 100, 8)
        let model = GPTSpec(layers: l, hidden: h, heads: a, sequenceLength: s, vocabulary: v)
        let peak = 100e12
        let profile = HardwareProfile(name: "arith", kind: .gpu, sources: [], peakTFLOPS: [.fp32: 10, .fp16: peak / 1e12], memoryGiB: 1000,
                                      memoryBandwidthGBs: 1e9, efficiency: .init(matmul: 0.9, vector: 1, memory: 1, network: 1),
                                      launchOverheadMicroseconds: 0, power: .init(idle: 0, peak: 1),
                                      interconnect: .init(devicesPerNode: 1, intraNode: nil, interNode: nil, hostLink: nil, hostMemoryGiB: 0))
        let (B, S, H, L, V) = (Double(b), Double(s), Double(h), Double(l), Double(v))
        // The forward bias adds (3h + h + 4h + h per token) are folded into their products.
        let matmulFLOPs = L * 3 * (24 * B * S * H * H + 4 * B * S * S * H) + 6 * B * S * H * V + L * 9 * B * S * H
        let plan = ParallelPlan(dp: 1, microBatch: b, precision: .fp16, flashAttention: false)
        let job = TrainingJob(model: model, globalBatch: b, cluster: try Cluster(profile: profile), plan: plan)
        let trace = try TransformerTrace(model: model, microBatch: b, precision: .fp16)
        let traced = (trace.block.filter { $0.kind == .matmul }.reduce(0) { $0 + $1.flops }) * L
            + (trace.embedding + trace.head).filter { $0.kind == .matmul }.reduce(0) { $0 + $1.flops }
        XCTAssertEqual(traced, matmulFLOPs, "the trace's products are the hand count")
        var exact = profile
        exact.efficiency.matmul = 1
        let rest = try TrainingJob(model: model, globalBatch: b, cluster: try Cluster(profile: exact), plan: plan).estimate().time.step
            - matmulFLOPs / peak
        let measured = matmulFLOPs / (peak * 0.5) + rest
        let run = MeasuredRun(name: "small", model: model, nodes: 1, globalBatch: b, plan: plan, precision: .fp16,
                              metric: .stepSeconds, measured: measured)
        let result = try Calibration.fit([run], on: profile, factors: [.matmul])
        XCTAssertEqual(result.profile.efficiency.matmul, 0.5, accuracy: 1e-5)
        XCTAssertEqual(result.runs[0].after, measured, accuracy: measured * 1e-5)
        XCTAssertEqual(result.runs[0].before, try job.estimate().time.step, accuracy: 1e-15)
        XCTAssertEqual(result.profile.name, "arith-calibrated")
        XCTAssertTrue(result.profile.sources.last!.contains("fitted matmul 0.5"), result.profile.sources.last!)
    }

    /// A measured-runs file: one measurement per run, named by its key path when wrong.
    func testMeasuredRunsFileErrorsNameTheKeyPath() {
        let model = #""model": {"layers": 2, "hidden": 64, "heads": 4, "sequence_length": 16, "vocabulary": 100}, "nodes": 1, "global_batch": 8"#
        let cases = [
            (#"{"runs": []}"#, "runs: give at least one measured run"),
            (#"{"runs": [{\#(model)}]}"#, "runs[0].step_seconds: give one measurement: step_seconds, tokens_per_second, tflops_per_device or mfu"),
            (#"{"runs": [{\#(model), "mfu": 0.4, "step_seconds": 2}]}"#, "runs[0].mfu: give one measurement, not both step_seconds and mfu"),
            (#"{"runs": [{\#(model), "mfu": 1.4}]}"#, "runs[0].mfu: must be a fraction in (0, 1], got 1.4"),
            (#"{"runs": [{\#(model), "mfu": 0.4, "precision": "fp12"}]}"#, "runs[0].precision: unknown precision 'fp12'"),
            (#"{"runs": [{"model": "llama-9b", "nodes": 1, "global_batch": 8, "mfu": 0.4}]}"#,
             "runs[0].model: unknown model 'llama-9b'; built-in: llama3-8b, llama3-70b, llama3-405b, gpt3-175b, mixtral-8x7b"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try decodeJSONConfig(MeasuredRuns.self, from: Data(text.utf8), file: "m.json"), text) {
                XCTAssertTrue(String(describing: $0).hasPrefix("m.json: " + message), "\($0)")
            }
        }
    }

    /// A run's model may be a built-in shape's name instead of its numbers.
    func testAMeasuredRunNamesABuiltInModel() throws {
        let text = #"{"runs": [{"model": "llama3-70b", "nodes": 8, "global_batch": 64, "parallelism": {"tp": 8}, "mfu": 0.4}]}"#
        let runs = try decodeJSONConfig(MeasuredRuns.self, from: Data(text.utf8), file: "m.json")
        XCTAssertEqual(runs.runs.first?.model, ModelShapes.named("llama3-70b"))
    }
}
