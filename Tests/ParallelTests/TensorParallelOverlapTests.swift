import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// Tensor-parallel communication overlapped with the products beside it (Megatron-Core's
/// `--tp-comm-overlap`; Wang et al. 2023, §3), against worked examples.
final class TensorParallelOverlapTests: XCTestCase {
    /// t = 4 pieces: 3 sends of C/3 during products of P/4.
    /// - C = 6, P = 3: each send 2 against 0.75 of product, 3 · 1.25 = 3.75 exposed.
    /// - C = 4, P = 6: each send 1.333 against 1.5, all hidden.
    /// - C = 3, P = 4: each send 1 against 1, all hidden (the boundary).
    /// - one rank: nothing to cut, all exposed.
    func testDecomposedRingWorkedByHand() {
        XCTAssertEqual(TrainingJob.exposedDecomposed(seconds: 6, productSeconds: 3, ranks: 4), 3.75, accuracy: 1e-12)
        XCTAssertEqual(TrainingJob.exposedDecomposed(seconds: 4, productSeconds: 6, ranks: 4), 0)
        XCTAssertEqual(TrainingJob.exposedDecomposed(seconds: 3, productSeconds: 4, ranks: 4), 0, accuracy: 1e-12)
        XCTAssertEqual(TrainingJob.exposedDecomposed(seconds: 5, productSeconds: 9, ranks: 1), 5)
    }

    /// tp 8 with sequence parallelism on one node, m = 2 micro-batches of 1. Per layer and pass,
    /// four collectives of the (s, h) activation, each beside its product: forward the gathers
    /// before QKV and FC1 and the scatters after the two output projections; backward the mirror
    /// image on the input-gradient products. What the ring hides moves from the exposed tensor
    /// communication to the hidden communication; nothing else changes.
    func testOverlapHidesWhatTheProductsCover() throws {
        let model = GPTSpec(layers: 4, hidden: 2048, heads: 16, sequenceLength: 2048, vocabulary: 1000)
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        func estimate(_ overlap: Bool) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 2, cluster: cluster,
                            plan: ParallelPlan(dp: 1, tp: 8, sequenceParallel: true, overlapTensorCommunication: overlap)).estimate()
        }
        let plain = try estimate(false), overlapped = try estimate(true)

        let trace = try TransformerTrace(model: model, microBatch: 1, precision: .bf16)
        let roofline = Roofline(profile: dgxA100), comm = CollectiveCost(cluster: cluster)
        let group = RankGroup(name: "tensor", size: 8, stride: 1)
        let bytes = 2048.0 * 2048 * 2
        let gather = comm.seconds(CollectiveEvent(name: "g", kind: .allGather, phase: .forward, group: group, bytes: bytes))
        let scatter = comm.seconds(CollectiveEvent(name: "s", kind: .reduceScatter, phase: .forward, group: group, bytes: bytes))
        let replicated = bytes
        func product(_ name: String) -> Double {
            roofline.cost(trace.block.filter { $0.name == "block0." + name }.map { $0.tensorParallelShard(8, replicatedBytes: replicated) }).seconds
        }
        var hidden = 0.0
        for (c, name) in [(gather, "attn.qkv"), (scatter, "attn.proj"), (gather, "mlp.fc"), (scatter, "mlp.proj"),
                          (gather, "attn.proj.dX"), (scatter, "attn.qkv.dX"), (gather, "mlp.proj.dX"), (scatter, "mlp.fc.dX")] {
            let p = product(name)
            XCTAssertGreaterThan(p, 0, name)
            hidden += c - 7 * max(0, c / 7 - p / 8)
        }
        hidden *= 4 * 2   // layers × micro-batches
        XCTAssertGreaterThan(hidden, 0)
        XCTAssertEqual(overlapped.time.tensorCommunication, plain.time.tensorCommunication - hidden, accuracy: 1e-12)
        XCTAssertEqual(overlapped.time.hiddenCommunication, plain.time.hiddenCommunication + hidden, accuracy: 1e-12)
        XCTAssertEqual(overlapped.time.compute, plain.time.compute)
        XCTAssertLessThan(overlapped.time.step, plain.time.step)
    }

    func testOverlapNeedsSequenceParallelismAndRoundTrips() throws {
        let model = GPTSpec(layers: 4, hidden: 2048, heads: 16, sequenceLength: 2048, vocabulary: 1000)
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        XCTAssertThrowsError(try TrainingJob(model: model, globalBatch: 2, cluster: cluster,
                                             plan: ParallelPlan(dp: 1, tp: 8, overlapTensorCommunication: true)).estimate()) {
            XCTAssertEqual("\($0)", "overlap_tp_comm: needs sequence parallelism: it overlaps the all-gathers and reduce-scatters sequence parallelism runs")
        }
        let plan = try JSONDecoder().decode(ParallelPlan.self, from: Data(#"{"tp": 8, "sequence_parallel": true, "overlap_tp_comm": true}"#.utf8))
        XCTAssertTrue(plan.overlapTensorCommunication)
        XCTAssertTrue(plan.estimateFlags.contains("--overlap-tp-comm"))
        XCTAssertEqual(try JSONDecoder().decode(ParallelPlan.self, from: try JSONEncoder().encode(plan)), plan)
    }
}
