import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// Uneven pipeline stages (Megatron-Core's first/last-stage layer counts) and the ZB-H1 schedule,
/// each against a worked example on the `dgxA100` fixture.
final class UnevenStagesAndZeroBubbleTests: XCTestCase {
    /// h 1024, s 1024, 16 heads, micro-batch 1: one layer's activations are
    /// sbh(34 + 5as/h) = 1,048,576 · (34 + 80) = 119,537,664 bytes (Korthikanti et al. 2022).
    let model = GPTSpec(layers: 8, hidden: 1024, heads: 16, sequenceLength: 1024, vocabulary: 1000)
    let layerActivations = 119_537_664.0
    /// The FP32 logits, 4 · 1024 · 1000 bytes.
    let logits = 4_096_000.0

    /// Llama 3 405B's split (126 layers on 16 stages, one fewer on the first and the last), and the
    /// rest split evenly when only one end is given.
    func testTheOtherStagesShareTheRestEvenly() throws {
        XCTAssert(ParallelPlan(pp: 16, firstStageLayers: 7, lastStageLayers: 7).stageLayers(of: 126) == (7, 8, 7))
        XCTAssert(ParallelPlan(pp: 4, firstStageLayers: 2).stageLayers(of: 8) == (2, 2, 2))
        XCTAssert(ParallelPlan(pp: 4, lastStageLayers: 5).stageLayers(of: 8) == (1, 1, 5))
        XCTAssert(ParallelPlan(pp: 2, firstStageLayers: 3).stageLayers(of: 8).last == 5)
        XCTAssert(ParallelPlan(pp: 3).stageLayers(of: 8) == (3, 3, 3), "an even split is costed at its fullest device")
        XCTAssert(ParallelPlan(pp: 1).stageLayers(of: 8) == (8, 8, 8))
    }

    func testStageLayersThatDoNotSplitTheModelAreRefused() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        func refusal(_ plan: ParallelPlan) -> String? {
            do { _ = try TrainingJob(model: model, globalBatch: 16, cluster: cluster, plan: plan).estimate(); return nil }
            catch { return "\(error)" }
        }
        XCTAssertNil(refusal(ParallelPlan(dp: 2, pp: 4, firstStageLayers: 1, lastStageLayers: 1)))
        XCTAssertEqual(refusal(ParallelPlan(dp: 2, pp: 4, firstStageLayers: 1)),
                       "first_stage_layers: the other 3 stages cannot split the remaining 7 layers evenly")
        XCTAssertEqual(refusal(ParallelPlan(dp: 2, pp: 4, firstStageLayers: 4, lastStageLayers: 4)),
                       "first_stage_layers: 8 layers on the first and last stages leave none of the 8 layers for the other 2 stages")
        XCTAssertEqual(refusal(ParallelPlan(dp: 4, pp: 2, firstStageLayers: 3, lastStageLayers: 4)),
                       "first_stage_layers: the first and last stages hold 7 layers, but the model has 8")
        XCTAssertEqual(refusal(ParallelPlan(dp: 8, pp: 1, lastStageLayers: 8)),
                       "last_stage_layers: 8 layers on one pipeline stage of 1 needs pipeline stages (pp > 1)")
        XCTAssertEqual(refusal(ParallelPlan(dp: 2, pp: 4, firstStageLayers: 0, lastStageLayers: 2)),
                       "first_stage_layers: must be at least 1, got 0")
        // Interleaved: the middle stages' 3 layers do not make 2 chunks; 1 + 2·3 + 1 = 8 with v = 3 does.
        XCTAssertEqual(refusal(ParallelPlan(dp: 2, pp: 4, virtualStages: 2, firstStageLayers: 1, lastStageLayers: 1)),
                       "virtual_stages: the 3 layers of each middle stage do not split into 2 equal chunks")
        XCTAssertNil(refusal(ParallelPlan(dp: 2, pp: 4, virtualStages: 3, firstStageLayers: 1, lastStageLayers: 1)))
        XCTAssertEqual(refusal(ParallelPlan(dp: 4, pp: 2, schedule: .zeroBubble, virtualStages: 2)),
                       "virtual_stages: the interleaved schedule is a 1F1B schedule, not zb-h1")
    }

    /// dp 2 × pp 4 on one node, 8 layers as 1 + 3 + 3 + 1, m = 16 / 2 = 8 micro-batches.
    /// - Compute: the middle devices are the slowest, 3 layers (the first device runs 1 layer and
    ///   the small embedding, the last 1 layer and the head over a vocabulary of 1,000): m · 3 ·
    ///   block.
    /// - Parameters: a middle device's 3 layers, nothing else.
    /// - Activations: 1F1B keeps p − s micro-batches on stage s; layers × in flight is 1·4, 3·3,
    ///   3·2, 1·1, so stage 1 holds the most, 9 layer-micro-batches (an even split of 2 per device:
    ///   2·4 = 8 on the first).
    func testUnevenStagesWorkedByHand() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        let trace = try TransformerTrace(model: model, microBatch: 1, precision: .bf16)
        let block = Roofline(profile: dgxA100).cost(trace.block).seconds
        let uneven = try TrainingJob(model: model, globalBatch: 16, cluster: cluster,
                                     plan: ParallelPlan(dp: 2, pp: 4, firstStageLayers: 1, lastStageLayers: 1)).estimate()
        let even = try TrainingJob(model: model, globalBatch: 16, cluster: cluster, plan: ParallelPlan(dp: 2, pp: 4)).estimate()
        XCTAssertEqual(uneven.time.compute, 8 * 3 * block, accuracy: 1e-12)
        XCTAssertEqual(uneven.parametersPerDevice, 3 * Double(trace.blockParameters), accuracy: 0.5)
        XCTAssertEqual(uneven.memory.activations, 9 * layerActivations + logits, accuracy: 1)
        XCTAssertEqual(even.memory.activations, 8 * layerActivations + logits, accuracy: 1)
        XCTAssertLessThan(even.time.compute, uneven.time.compute, "2 layers and the head are less work than 3 layers here")
    }

    /// ZB-H1 on dp 4 × pp 2, m = 4: the same compute, sends and memory as 1F1B; the bubble's
    /// compute part shrinks from (p − 1)(F + B + W) to (p − 1)(F + B − W), W the weight-gradient
    /// operations of the slowest stage (4 layers' dW and bias and norm parameter gradients, and the
    /// last stage's head's), so by exactly 2·W.
    func testZeroBubbleH1WorkedByHand() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        let trace = try TransformerTrace(model: model, microBatch: 1, precision: .bf16)
        let roofline = Roofline(profile: dgxA100)
        let w = 4 * roofline.cost(trace.block.filter(\.isWeightGradient)).seconds + roofline.cost(trace.head.filter(\.isWeightGradient)).seconds
        XCTAssertEqual(trace.block.filter(\.isWeightGradient).map(\.name).sorted(),
                       ["block0.attn.proj.bias.grad", "block0.attn.proj.dW", "block0.attn.qkv.bias.grad", "block0.attn.qkv.dW",
                        "block0.ln1.dparams", "block0.ln2.dparams", "block0.mlp.fc.bias.grad", "block0.mlp.fc.dW",
                        "block0.mlp.proj.bias.grad", "block0.mlp.proj.dW"])
        func estimate(_ schedule: ParallelPlan.PipelineSchedule) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 16, cluster: cluster, plan: ParallelPlan(dp: 4, pp: 2, schedule: schedule)).estimate()
        }
        let plain = try estimate(.oneForwardOneBackward), zb = try estimate(.zeroBubble)
        XCTAssertEqual(zb.time.bubble, plain.time.bubble - 2 * w, accuracy: 1e-12)
        XCTAssertEqual(zb.time.compute, plain.time.compute)
        XCTAssertEqual(zb.time.pipelineCommunication, plain.time.pipelineCommunication)
        XCTAssertEqual(zb.memory.total, plain.memory.total)
        XCTAssertGreaterThan(zb.time.bubble, 0)
    }

    func testStageLayersAndScheduleRoundTripThroughTheSection() throws {
        let plan = try JSONDecoder().decode(ParallelPlan.self, from: Data(#"{"pp": 16, "first_stage_layers": 7, "last_stage_layers": 7, "schedule": "zb-h1"}"#.utf8))
        XCTAssertEqual(plan.firstStageLayers, 7); XCTAssertEqual(plan.lastStageLayers, 7); XCTAssertEqual(plan.schedule, .zeroBubble)
        XCTAssertEqual(try JSONDecoder().decode(ParallelPlan.self, from: try JSONEncoder().encode(plan)), plan)
        XCTAssertEqual(Array(plan.estimateFlags.suffix(6)), ["--first-stage-layers", "7", "--last-stage-layers", "7", "--precision", "bf16"])
        XCTAssertTrue(plan.estimateFlags.contains("zb-h1"))
        XCTAssertThrowsError(try JSONDecoder().decode(ParallelPlan.self, from: Data(#"{"first_stage_layers": 0}"#.utf8))) {
            XCTAssertEqual("\($0)", "first_stage_layers: must be at least 1, got 0")
        }
    }
}
