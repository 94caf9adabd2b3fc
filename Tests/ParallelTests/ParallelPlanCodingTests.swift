import Engine
import Foundation
import XCTest
@testable import Parallel

/// `ParallelPlan` as a `parallelism` section: defaults, resolution on a cluster, errors naming the
/// key, and a round trip through its own keys.
final class ParallelPlanCodingTests: XCTestCase {
    private func decode(_ text: String) throws -> ParallelPlan {
        try JSONDecoder().decode(ParallelPlan.self, from: Data(text.utf8))
    }

    func testDefaultsAndResolution() throws {
        let plan = try decode(#"{"tp": 4, "pp": 2, "micro_batch": 2, "checkpointing": "selective"}"#)
        XCTAssertEqual(plan.dp, 0, "unset until resolved")
        XCTAssertEqual(plan.zero, 0); XCTAssertEqual(plan.schedule, .oneForwardOneBackward); XCTAssertEqual(plan.precision, .bf16)
        // 64 devices / (tp 4 × pp 2) = dp 8.
        XCTAssertEqual(try plan.resolved(devices: 64).dp, 8)
        XCTAssertEqual(try decode(#"{"dp": 2}"#).resolved(devices: 64).dp, 2, "a given dp is kept")
        XCTAssertThrowsError(try plan.resolved(devices: 12)) {
            XCTAssertEqual("\($0)", "tp: tp × pp = 8 does not divide the cluster's 12 devices")
        }
    }

    func testErrorsNameTheKey() {
        XCTAssertThrowsError(try decode(#"{"tensor": 2}"#)) {
            XCTAssertTrue("\($0)".hasPrefix("tensor: unknown key in parallelism"), "\($0)")
        }
        XCTAssertThrowsError(try decode(#"{"tp": "two"}"#)) { XCTAssertEqual("\($0)", "tp: expected an integer") }
        XCTAssertThrowsError(try decode(#"{"schedule": "1f2b"}"#)) {
            XCTAssertEqual("\($0)", "schedule: unknown schedule '1f2b' (valid: gpipe, 1f1b, zb-h1). Did you mean '1f1b'?")
        }
        XCTAssertThrowsError(try decode(#"{"pp": 0}"#)) { XCTAssertEqual("\($0)", "pp: must be at least 1, got 0") }
    }

    func testRoundTripAndFlags() throws {
        let plan = ParallelPlan(dp: 8, tp: 2, pp: 1, zero: 2, microBatch: 4, gradientAccumulation: 16, checkpointing: .full,
                                sequenceParallel: true, offload: true, precision: .fp16, schedule: .gpipe)
        let text = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        XCTAssertEqual(try decode(text), plan)
        XCTAssertEqual(plan.estimateFlags, ["--dp", "8", "--tp", "2", "--pp", "1", "--zero", "2", "--micro-batch", "4", "--grad-accum", "16",
                                            "--checkpointing", "full", "--schedule", "gpipe", "--sequence-parallel", "--offload",
                                            "--precision", "fp16"])
    }

    func testInterleavingScatterGatherOverlapAndFlashAttentionKeys() throws {
        let plan = try decode(#"{"pp": 4, "virtual_stages": 2, "scatter_gather": false, "overlap_grad_reduce": true, "flash_attention": true}"#)
        XCTAssertEqual(plan.virtualStages, 2); XCTAssertFalse(plan.scatterGather)
        XCTAssertTrue(plan.overlapGradientReduction); XCTAssertEqual(plan.flashAttention, true)
        let defaults = try decode("{}")
        XCTAssertEqual(defaults.virtualStages, 1); XCTAssertTrue(defaults.scatterGather)
        XCTAssertFalse(defaults.overlapGradientReduction); XCTAssertNil(defaults.flashAttention, "the profile decides")
        let resolved = try plan.resolved(devices: 8)
        XCTAssertEqual(try decode(String(decoding: try JSONEncoder().encode(resolved), as: UTF8.self)), resolved)
        XCTAssertEqual(Array(resolved.estimateFlags.suffix(7)),
                       ["--virtual-stages", "2", "--no-scatter-gather", "--overlap-grad-reduce", "--flash-attention", "--precision", "bf16"])
        var off = resolved
        off.flashAttention = false
        XCTAssertTrue(off.estimateFlags.contains("--no-flash-attention"))
        XCTAssertTrue(Set(ParallelPlan.sectionKeys).isSuperset(of: ["virtual_stages", "scatter_gather", "overlap_grad_reduce", "flash_attention"]))
        let infinity = try decode(#"{"zero": 3, "offload": true, "offload_parameters": true}"#)
        XCTAssertEqual(infinity.stateOffload, .optimizerAndParameters); XCTAssertEqual(defaults.stateOffload, StateOffload.none)
        XCTAssertTrue(infinity.estimateFlags.contains("--offload-params"))
        XCTAssertEqual(try decode(String(decoding: try JSONEncoder().encode(infinity), as: UTF8.self)), infinity)
        let prefetch = try decode(#"{"zero": 3, "overlap_param_gather": true}"#)
        XCTAssertTrue(prefetch.overlapParameterGather); XCTAssertFalse(defaults.overlapParameterGather)
        XCTAssertTrue(prefetch.estimateFlags.contains("--overlap-param-gather"))
        XCTAssertEqual(try decode(String(decoding: try JSONEncoder().encode(prefetch), as: UTF8.self)), prefetch)
        XCTAssertThrowsError(try decode(#"{"virtual_stages": 0}"#)) { XCTAssertEqual("\($0)", "virtual_stages: must be at least 1, got 0") }
        XCTAssertThrowsError(try decode(#"{"flash_attention": "yes"}"#)) { XCTAssertEqual("\($0)", "flash_attention: expected true or false") }
    }
}
