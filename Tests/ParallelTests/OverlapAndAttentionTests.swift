import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// Gradient reduction overlapped with the backward pass, FlashAttention's activation memory, and
/// the estimate's JSON keys.
final class OverlapAndAttentionTests: XCTestCase {
    /// A 10 ms reduction in 4 buckets behind an 8 ms backward: buckets fill at 2, 4, 6 and 8 ms and
    /// take 2.5 ms each, so they run 2–4.5, 4.5–7, 7–9.5 and 9.5–12 ms: 4 ms after the backward,
    /// = max(10/4, 10 − 8 · 3/4). Behind a 20 ms backward only the last bucket shows (2.5 ms); with
    /// no backward to hide behind, all of it; in one bucket, all of it.
    func testExposedReductionWorkedByHand() {
        XCTAssertEqual(TrainingJob.exposedReduction(seconds: 10e-3, buckets: 4, backwardSeconds: 8e-3), 4e-3, accuracy: 1e-15)
        XCTAssertEqual(TrainingJob.exposedReduction(seconds: 10e-3, buckets: 4, backwardSeconds: 20e-3), 2.5e-3, accuracy: 1e-15)
        XCTAssertEqual(TrainingJob.exposedReduction(seconds: 10e-3, buckets: 4, backwardSeconds: 0), 10e-3, accuracy: 1e-15)
        XCTAssertEqual(TrainingJob.exposedReduction(seconds: 10e-3, buckets: 1, backwardSeconds: 8e-3), 10e-3, accuracy: 1e-15)
    }

    /// Overlap moves data-parallel time from exposed to hidden without changing the total; the
    /// bucket count is the gradient bytes over 25 MiB, and the exposed part is the closed form
    /// above with the stage's backward time.
    func testOverlapSplitsDataCommunicationIntoExposedAndHidden() throws {
        let model = GPTSpec(layers: 4, hidden: 1024, heads: 16, sequenceLength: 1024, vocabulary: 1000)
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        func estimate(_ overlap: Bool) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 16, cluster: cluster,
                            plan: ParallelPlan(dp: 16, microBatch: 1, overlapGradientReduction: overlap)).estimate()
        }
        let serial = try estimate(false), overlapped = try estimate(true)
        XCTAssertEqual(serial.time.hiddenCommunication, 0)
        XCTAssertGreaterThan(overlapped.time.hiddenCommunication, 0)
        XCTAssertEqual(overlapped.time.dataCommunication + overlapped.time.hiddenCommunication, serial.time.dataCommunication,
                       accuracy: 1e-12)
        XCTAssertEqual(overlapped.time.step, serial.time.step - overlapped.time.hiddenCommunication, accuracy: 1e-12)
        // Ψ = 4 layers of 12h² + 13h plus the embeddings (1000 + 1024 positions) · h and the final norm 2h:
        // 52,459,520 BF16 gradients = 104,919,040 bytes = 4.002 buckets of 25 MiB → 5 buckets.
        let block: Double = 12 * 1024 * 1024 + 13 * 1024
        let ends: Double = 2024 * 1024 + 2 * 1024
        let psi: Double = 4 * block + ends
        XCTAssertEqual(overlapped.parametersPerDevice, psi)
        XCTAssertEqual((2 * psi / TrainingJob.gradientBucketBytes).rounded(.up), 5)
        let bucketShare = serial.time.dataCommunication / 5
        XCTAssertGreaterThanOrEqual(overlapped.time.dataCommunication, bucketShare * (1 - 1e-12), "at least the last bucket")
    }

    /// ZeRO-3 prefetch, worked by hand: a 10 ms gather in 4 layers (2.5 ms each) before an 8 ms
    /// forward (2 ms a layer). Gather 1 runs 0–2.5 ms and layer 1 waits for it; gather 2 runs
    /// 2.5–5 while layer 1 computes 2.5–4.5, so layer 2 runs 5–7; gather 3 5–7.5, layer 3
    /// 7.5–9.5; gather 4 7.5–10, layer 4 10–12. The pass ends at 12 ms: 4 ms exposed. Behind a
    /// 20 ms forward (5 ms a layer) only the first gather shows, 2.5 ms.
    func testExposedParameterGatherWorkedByHand() {
        XCTAssertEqual(TrainingJob.exposedGather(seconds: 10e-3, layers: 4, computeSeconds: 8e-3), 4e-3, accuracy: 1e-15)
        XCTAssertEqual(TrainingJob.exposedGather(seconds: 10e-3, layers: 4, computeSeconds: 20e-3), 2.5e-3, accuracy: 1e-15)
        XCTAssertEqual(TrainingJob.exposedGather(seconds: 10e-3, layers: 1, computeSeconds: 20e-3), 10e-3, accuracy: 1e-15)
    }

    /// In a ZeRO-3 estimate prefetch moves gather time from exposed to hidden and leaves the
    /// reduce-scatter of the gradients and the total alone; without ZeRO-3 it changes nothing.
    func testPrefetchHidesZeRO3Gathers() throws {
        let model = GPTSpec(layers: 8, hidden: 1024, heads: 16, sequenceLength: 1024, vocabulary: 1000)
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        func estimate(zero: Int, _ prefetch: Bool) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 16, cluster: cluster,
                            plan: ParallelPlan(dp: 16, zero: zero, microBatch: 1, overlapParameterGather: prefetch)).estimate()
        }
        let serial = try estimate(zero: 3, false), prefetched = try estimate(zero: 3, true)
        XCTAssertGreaterThan(prefetched.time.hiddenCommunication, 0)
        XCTAssertEqual(prefetched.time.dataCommunication + prefetched.time.hiddenCommunication, serial.time.dataCommunication, accuracy: 1e-12)
        XCTAssertEqual(prefetched.time.step, serial.time.step - prefetched.time.hiddenCommunication, accuracy: 1e-12)
        // Each pass's gathers are Ψ·2 bytes over the 16 ranks in 8 layer-sized pieces: at least
        // one piece of each pass stays exposed.
        let comm = CollectiveCost(cluster: cluster)
        let gather = comm.seconds(CollectiveEvent(name: "parameters.forward", kind: .allGather, phase: .forward,
                                                  group: ParallelPlan(dp: 16).dataGroup, bytes: 2 * prefetched.parametersPerDevice))
        XCTAssertGreaterThanOrEqual(serial.time.dataCommunication - prefetched.time.hiddenCommunication, 2 * gather / 8 * (1 - 1e-12))
        XCTAssertEqual(try estimate(zero: 1, true).time.hiddenCommunication, 0)
    }

    /// Korthikanti et al. 2022's per-layer bytes without and with FlashAttention (Dao et al. 2022),
    /// s = b·1024, h = 1024, a = 16 (5as/h = 80): sbh(34 + 80) = 119,537,664 against sbh·34 =
    /// 35,651,584; over t = 2, sbh(10 + 12 + 40) = 65,011,712 against sbh·22 = 23,068,672.
    func testFlashAttentionDropsTheQuadraticTerm() throws {
        func bytes(_ t: Int, _ flash: Bool) -> Double {
            transformerLayerActivationBytes(sequence: 1024, microBatch: 1, hidden: 1024, heads: 16, tensorParallel: t, flashAttention: flash)
        }
        XCTAssertEqual(bytes(1, false), 119_537_664)
        XCTAssertEqual(bytes(1, true), 35_651_584)
        XCTAssertEqual(bytes(2, false), 65_011_712)
        XCTAssertEqual(bytes(2, true), 23_068_672)

        // A plan that does not say follows the profile; one that says wins. One layer, one
        // micro-batch in flight: the difference is the 80·sbh term, 83,886,080 bytes.
        let model = GPTSpec(layers: 1, hidden: 1024, heads: 16, sequenceLength: 1024, vocabulary: 1000)
        var flashStack = dgxA100
        flashStack.flashAttention = true
        func estimate(_ profile: HardwareProfile, _ flash: Bool?) throws -> TrainingEstimate {
            try TrainingJob(model: model, globalBatch: 1, cluster: try Cluster(profile: profile, nodes: 1, devicesPerNode: 1),
                            plan: ParallelPlan(dp: 1, flashAttention: flash)).estimate()
        }
        let byProfile = try estimate(flashStack, nil), without = try estimate(flashStack, false), plain = try estimate(dgxA100, nil)
        XCTAssertEqual(byProfile.plan.flashAttention, true)
        XCTAssertEqual(plain.plan.flashAttention, false)
        XCTAssertEqual(without.memory.activations - byProfile.memory.activations, 83_886_080, accuracy: 1)
        XCTAssertEqual(plain.memory.activations, without.memory.activations)
        XCTAssertEqual(try estimate(dgxA100, true).memory.activations, byProfile.memory.activations)
    }

    /// Snake-case JSON spells FLOPs as a word, and carries exposed and hidden communication.
    func testJSONKeys() throws {
        let model = GPTSpec(layers: 2, hidden: 256, heads: 4, sequenceLength: 128, vocabulary: 1000)
        let e = try TrainingJob(model: model, globalBatch: 8, cluster: try Cluster(profile: dgxA100, nodes: 1),
                                plan: ParallelPlan(dp: 8, overlapGradientReduction: true)).estimate()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: encoder.encode(e)) as? [String: Any])
        XCTAssertNotNil(doc["model_flops_per_step"]); XCTAssertNotNil(doc["executed_flops_per_step"])
        XCTAssertNil(doc["model_flo_ps_per_step"])
        let time = try XCTUnwrap(doc["time"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(time["exposed_communication"] as? Double), e.time.communication, accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(time["hidden_communication"] as? Double), e.time.hiddenCommunication, accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(time["step"] as? Double), e.time.step, accuracy: 1e-15)
        XCTAssertEqual((doc["plan"] as? [String: Any])?["overlap_grad_reduce"] as? Bool, true)
    }
}
