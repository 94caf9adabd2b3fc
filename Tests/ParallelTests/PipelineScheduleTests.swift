import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// The interleaved 1F1B schedule and Megatron's scatter/gather of pipeline sends, each against a
/// worked example on the `dgxA100` fixture (NVLink 300 GB/s and 3 µs, InfiniBand 25 GB/s and 5 µs
/// per GPU, network efficiency 0.8: 240 GB/s and 20 GB/s usable).
final class PipelineScheduleTests: XCTestCase {
    /// h 1024, s 1024, micro-batch 1, BF16: one micro-batch's activations are 1024 · 1024 · 2 =
    /// 2,097,152 bytes.
    let model = GPTSpec(layers: 8, hidden: 1024, heads: 16, sequenceLength: 1024, vocabulary: 1000)

    /// Narayanan et al. 2021, §2.2.2, on one node: dp 4 × pp 2, 16 samples in micro-batches of 1, so
    /// m = 16 / 4 = 4 micro-batches per pipeline.
    /// - Pipeline sends: stages are tp·dp = 4 ranks apart, inside the node: 3 µs + 2,097,152 /
    ///   240e9 s = 11.738133 µs one way, 23.476267 µs both ways per boundary; with v = 2 chunks a
    ///   device crosses 2 boundaries per micro-batch: 4 · 2 · 23.476267 = 187.810133 µs (plain 1F1B
    ///   half of that).
    /// - Bubble: p − 1 = 1 slot of one chunk's work on one micro-batch: compute / (v·m) plus one
    ///   boundary's sends, so its compute part is (p − 1)/(v·m) = 1/8 of the compute.
    /// - Activations (Korthikanti et al. 2022): sbh(34 + 5as/h) = 1,048,576 · (34 + 80) =
    ///   119,537,664 bytes a layer; the first stage keeps 4 layers × 2 micro-batches = 956,301,312
    ///   bytes, interleaved 1 + (p − 1)/(p·v) = 1.25 times that, 1,195,376,640; plus the FP32 logits
    ///   4 · 1024 · 1000 = 4,096,000.
    func testInterleavedScheduleWorkedByHand() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        func estimate(_ v: Int) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 16, cluster: cluster,
                            plan: ParallelPlan(dp: 4, tp: 1, pp: 2, virtualStages: v)).estimate()
        }
        let plain = try estimate(1), interleaved = try estimate(2)
        let boundary = 2 * (3e-6 + 2_097_152 / 240e9)
        XCTAssertEqual(boundary, 23.476267e-6, accuracy: 1e-12)
        XCTAssertEqual(plain.time.pipelineCommunication, 4 * boundary, accuracy: 1e-12)
        XCTAssertEqual(interleaved.time.pipelineCommunication, 187.810133e-6, accuracy: 1e-11)

        XCTAssertEqual(interleaved.time.compute, plain.time.compute, accuracy: 1e-12)
        XCTAssertEqual(plain.time.bubble, plain.time.compute / 4 + boundary, accuracy: 1e-12)
        XCTAssertEqual(interleaved.time.bubble, interleaved.time.compute / 8 + boundary, accuracy: 1e-12)
        XCTAssertLessThan(interleaved.time.step, plain.time.step)

        XCTAssertEqual(plain.memory.activations, 956_301_312 + 4_096_000, accuracy: 1)
        XCTAssertEqual(interleaved.memory.activations, 1_195_376_640 + 4_096_000, accuracy: 1)
    }

    /// What the interleaved schedule needs: pipeline stages, the 1F1B schedule, layers in pp·v
    /// equal chunks and micro-batches in groups of pp (Narayanan et al. 2021, §2.2.2).
    func testInterleavingConstraints() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        func key(_ plan: ParallelPlan, batch: Int = 16) -> String? {
            do { _ = try TrainingJob(model: model, globalBatch: batch, cluster: cluster, plan: plan).estimate(); return nil }
            catch { return (error as? PlanError)?.key ?? "\(error)" }
        }
        XCTAssertNil(key(ParallelPlan(dp: 4, pp: 2, virtualStages: 4)))
        XCTAssertEqual(key(ParallelPlan(dp: 4, pp: 2, virtualStages: 3)), "virtual_stages")         // 8 layers in 6 chunks
        XCTAssertEqual(key(ParallelPlan(dp: 4, pp: 2, virtualStages: 2), batch: 12), "virtual_stages") // m = 3, pp = 2
        XCTAssertEqual(key(ParallelPlan(dp: 4, pp: 2, schedule: .gpipe, virtualStages: 2)), "virtual_stages")
        XCTAssertEqual(key(ParallelPlan(dp: 8, pp: 1, virtualStages: 2)), "virtual_stages")
        XCTAssertEqual(key(ParallelPlan(dp: 4, pp: 2, virtualStages: 0)), "virtual_stages")
    }

    /// Narayanan et al. 2021, §4.1, on two nodes: tp 8 × pp 2, so neighbouring stages are on
    /// different nodes (InfiniBand), m = 4.
    /// - Whole sends: 5 µs + 2,097,152 / 20e9 s = 109.8576 µs one way; 4 · 2 · 109.8576 =
    ///   878.8608 µs.
    /// - Scatter/gather: 1/8 each, 5 µs + 262,144 / 20e9 s = 18.1072 µs, then an all-gather of the
    ///   2,097,152 bytes over the 8 NVLink ranks: 7 · 3 µs + 8.738133 µs · 7/8 = 28.645867 µs; one way
    ///   46.753067 µs, 4 · 2 · 46.753067 = 374.024533 µs.
    /// - Sequence parallel: the activation is already split, no gather: 4 · 2 · 18.1072 = 144.8576 µs.
    func testScatterGatherWorkedByHand() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        func pipeline(_ plan: ParallelPlan) throws -> Double {
            try TrainingJob(model: model, globalBatch: 4, cluster: cluster, plan: plan).estimate().time.pipelineCommunication
        }
        XCTAssertEqual(try pipeline(ParallelPlan(dp: 1, tp: 8, pp: 2, scatterGather: false)), 878.8608e-6, accuracy: 1e-11)
        XCTAssertEqual(try pipeline(ParallelPlan(dp: 1, tp: 8, pp: 2)), 374.024533e-6, accuracy: 1e-11)
        XCTAssertEqual(try pipeline(ParallelPlan(dp: 1, tp: 8, pp: 2, sequenceParallel: true)), 144.8576e-6, accuracy: 1e-11)
        XCTAssertEqual(try pipeline(ParallelPlan(dp: 1, tp: 8, pp: 2, sequenceParallel: true, scatterGather: false)), 144.8576e-6,
                       accuracy: 1e-11)
    }

    /// A tensor-parallel group wider than a node runs, and says so.
    func testTensorGroupWiderThanANodeWarns() throws {
        let model = GPTSpec(layers: 2, hidden: 1024, heads: 16, sequenceLength: 128, vocabulary: 1000)
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        let wide = try TrainingJob(model: model, globalBatch: 1, cluster: cluster, plan: ParallelPlan(dp: 1, tp: 16)).estimate()
        XCTAssertEqual(wide.warnings, ["the tensor-parallel group of 16 devices is wider than a node of 8: its all-reduces run over the inter-node link; keep tp ≤ 8"])
        let narrow = try TrainingJob(model: model, globalBatch: 2, cluster: cluster, plan: ParallelPlan(dp: 2, tp: 8)).estimate()
        XCTAssertEqual(narrow.warnings, [])
    }
}
