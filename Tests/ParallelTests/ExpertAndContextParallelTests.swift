import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// Mixture of experts with expert parallelism, and context parallelism, against worked examples.
final class ExpertAndContextParallelTests: XCTestCase {
    /// A Mixtral-shaped MoE of 2 layers, b 1, s 4096, bf16, top-2, ep 8 over one DGX node: each
    /// all-to-all moves the rank's 4096 tokens × 4096 × 2 bytes × 2 slots = 67,108,864 bytes, of
    /// which 7/8 leave the rank; two forward and two backward per layer.
    func testExpertAllToAllBytesAndTimeByHand() throws {
        let events = StepCollectives.expertParallel(layers: 2, tokenBytes: 4096 * 4096 * 2, slots: 2,
                                                    group: RankGroup(name: "expert", size: 8, stride: 1))
        XCTAssertEqual(events.map(\.bytes), [67_108_864, 67_108_864])
        XCTAssertEqual(events.map(\.count), [4, 4])
        XCTAssertEqual(StepCollectives.bytesSent(events), 8 * 67_108_864 * 7 / 8)

        var moe = try XCTUnwrap(ModelShapes.named("mixtral-8x7b"))
        moe.layers = 2; moe.sequenceLength = 4096
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        let e = try TrainingJob(model: moe, globalBatch: 8, cluster: cluster,
                                plan: ParallelPlan(dp: 8, zero: 1, microBatch: 1, ep: 8)).estimate()
        // NVLink 300 GB/s at network efficiency 0.8, 3 µs per step: one all-to-all is
        // 7·3e-6 + 67,108,864 · 7/8 / 240e9 s; eight per micro-batch, one micro-batch.
        let one = 7 * 3e-6 + 67_108_864.0 * 7 / 8 / 240e9
        XCTAssertEqual(e.time.expertCommunication, 8 * one, accuracy: 1e-12)
        // Each rank holds one expert of each layer's eight (3·h·f each), and the dense rest whole.
        let expertsPerRank: Int = 2 * 3 * 4096 * 14336
        let layer: Int = 4096 * 6144 + 4096 * 4096 + 4096 * 8 + 2 * 4096
        let dense: Int = 2 * layer + 2 * 32000 * 4096 + 4096
        XCTAssertEqual(e.parametersPerDevice, Double(dense + expertsPerRank))
        XCTAssertEqual(e.parameters, ModelParameters(moe).total)
    }

    /// ep must divide dp (Megatron's rule) and the experts, and needs experts.
    func testExpertParallelismIsChecked() throws {
        let moe = try XCTUnwrap(ModelShapes.named("mixtral-8x7b"))
        func reason(_ plan: ParallelPlan, _ model: GPTSpec = moe) -> String? {
            do { _ = try plan.validate(model, devices: plan.worldSize, globalBatch: plan.dp * 4); return nil }
            catch let e as PlanError { return e.key + ": " + e.reason } catch { return "\(error)" }
        }
        XCTAssertEqual(reason(ParallelPlan(dp: 6, ep: 4)), "ep: 4 does not divide the data-parallel size 6 (expert-parallel ranks are data-parallel ranks)")
        XCTAssertEqual(reason(ParallelPlan(dp: 16, ep: 16)), "ep: 16 does not divide the 8 experts")
        XCTAssertEqual(reason(ParallelPlan(dp: 4, ep: 2), gpt3), "ep: expert parallelism (ep = 2) needs a mixture of experts (experts > 1)")
        XCTAssertNil(reason(ParallelPlan(dp: 8, ep: 8)))
    }

    /// With a capacity factor of 1.25 the experts execute 1.25× the routed tokens' work: the padding
    /// is executed FLOPs, not model FLOPs.
    func testCapacityPaddingIsExecutedNotModelFLOPs() throws {
        var moe = GPTSpec(layers: 2, hidden: 64, heads: 4, sequenceLength: 16, vocabulary: 50)
        moe.experts = 4; moe.topK = 2
        let dropless = try TransformerTrace(model: moe, microBatch: 1, precision: .bf16)
        moe.capacityFactor = 1.25
        let padded = try TransformerTrace(model: moe, microBatch: 1, precision: .bf16)
        func experts(_ t: TransformerTrace) -> Double { t.block.filter { $0.name.hasPrefix("block0.mlp.") }.reduce(0) { $0 + $1.flops } }
        XCTAssertEqual(experts(padded), 1.25 * experts(dropless), accuracy: 1e-6)
        XCTAssertEqual(padded.expertPaddingFLOPs, 0.25 * experts(dropless), accuracy: 1e-6)
        // Two GELU experts of a dense MLP's forward matmuls, 2·T·(h·f + f·h) each with f = 4h, and
        // the bias adds folded into them, T·(f + h).
        let forward = dropless.block.filter { $0.name.hasPrefix("block0.mlp.") && $0.kind == .matmul && $0.phase == .forward }
        XCTAssertEqual(forward.reduce(0) { $0 + $1.flops }, 2 * (2 * 16 * (64 * 256 + 256 * 64) + 16 * (256 + 64)))
        let job = TrainingJob(model: moe, globalBatch: 4, cluster: try Cluster(profile: dgxA100, nodes: 1), plan: ParallelPlan(dp: 8, microBatch: 1))
        XCTAssertThrowsError(try job.estimate())  // 4 samples do not split over dp 8
        let e = try TrainingJob(model: moe, globalBatch: 8, cluster: try Cluster(profile: dgxA100, nodes: 1),
                                plan: ParallelPlan(dp: 8, microBatch: 1)).estimate()
        XCTAssertEqual(e.executedFLOPsPerStep - e.modelFLOPsPerStep, 8 * 2 * padded.expertPaddingFLOPs, accuracy: 1e-3)
    }

    /// Ring attention over cp ranks: a layer's K/V chunk, 2·b·(s/cp)·kv/t·bytes, sent cp − 1 times
    /// forward and 2(cp − 1) times backward; what the attention does not hide is exposed, the rest
    /// hidden, and the two add up to the whole traffic.
    func testContextParallelRingTrafficByHand() throws {
        var llama = try XCTUnwrap(ModelShapes.named("llama3-8b"))
        llama.layers = 4; llama.sequenceLength = 32768
        let chunk = 2.0 * 32768 / 4 * 1024 / 8 * 2     // b 1, cp 4, kv 1024, tp 8, bf16
        XCTAssertEqual(chunk, 4_194_304)
        let ring = try XCTUnwrap(StepCollectives.contextParallel(chunkBytes: chunk, group: RankGroup(name: "context", size: 4, stride: 8)))
        XCTAssertEqual([ring.forward.count, ring.backward.count], [3, 6])
        XCTAssertNil(StepCollectives.contextParallel(chunkBytes: chunk, group: RankGroup(name: "context", size: 1, stride: 8)))

        let cluster = try Cluster(profile: dgxA100, nodes: 4)
        let plan = ParallelPlan(dp: 1, tp: 8, pp: 1, microBatch: 1, sequenceParallel: true, cp: 4)
        let e = try TrainingJob(model: llama, globalBatch: 2, cluster: cluster, plan: plan).estimate()
        XCTAssertEqual(e.microBatches, 2)
        // The context group (stride 8, four ranks) spans nodes: HDR InfiniBand, 25 GB/s × 0.8, 5 µs.
        let send = 5e-6 + chunk / 20e9
        XCTAssertEqual(e.time.contextCommunication + e.time.hiddenCommunication, 2 * 4 * 9 * send, accuracy: 1e-9)
        XCTAssertGreaterThan(e.time.hiddenCommunication, 0)
        // 2·cp must divide the sequence.
        var odd = llama; odd.sequenceLength = 32766
        XCTAssertThrowsError(try TrainingJob(model: odd, globalBatch: 2, cluster: cluster, plan: plan).estimate()) { error in
            XCTAssertEqual((error as? PlanError)?.key, "cp")
        }
    }
}
