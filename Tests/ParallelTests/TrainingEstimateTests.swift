import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// An A100-80GB DGX node as the Megatron-LM paper's cluster had it (figures from NVIDIA's datasheet).
let dgxA100 = HardwareProfile(
    name: "test-A100", kind: .gpu, sources: ["test fixture"],
    peakTFLOPS: [.fp32: 19.5, .tf32: 156, .fp16: 312, .bf16: 312, .int8: 624],
    memoryGiB: 80, memoryBandwidthGBs: 2039, efficiency: .init(matmul: 0.6, vector: 0.5, memory: 0.8, network: 0.8),
    launchOverheadMicroseconds: 5, power: .init(idle: 60, peak: 400),
    interconnect: .init(devicesPerNode: 8,
                        intraNode: .init(kind: "nvlink3", bandwidthGBs: 300, latencyMicroseconds: 3),
                        interNode: .init(kind: "hdr-ib", bandwidthGBs: 25, latencyMicroseconds: 5),
                        hostLink: .init(kind: "pcie4", bandwidthGBs: 32, latencyMicroseconds: 2), hostMemoryGiB: 2048))

let gpt3 = GPTSpec(layers: 96, hidden: 12288, heads: 96, sequenceLength: 2048, vocabulary: 51200)

final class TrainingEstimateTests: XCTestCase {
    func testGPT3On1024GPUsIsQuickAndConsistent() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 128)
        let plan = ParallelPlan(dp: 16, tp: 8, pp: 8, zero: 1, microBatch: 1, checkpointing: .full)
        let start = Date()
        let e = try TrainingJob(model: gpt3, globalBatch: 1536, cluster: cluster, plan: plan).estimate()
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        XCTAssertEqual(e.microBatches, 96)
        // Narayanan et al. 2021, eq. 3: 96·B·s·l·h²·(1 + s/(6h) + V/(16lh)) FLOPs per iteration with
        // full recomputation. Our trace counts the logit layer as 8·B·s·h·V (forward, backward and
        // recompute-free head), the paper's form 6·B·s·h·V: compare the layers, then the head.
        let B = 1536.0, s = 2048.0, l = 96.0, h = 12288.0, V = 51200.0
        let layers = 96 * B * s * l * h * h * (1 + s / (6 * h))
        let head = 6 * B * s * h * V
        XCTAssertEqual(e.executedFLOPsPerStep, layers + head, accuracy: 0.01 * (layers + head))
        XCTAssertGreaterThan(e.time.bubble, 0)
        XCTAssertEqual(e.time.bubble / e.time.compute, 7.0 / 96.0, accuracy: 0.02)
        XCTAssertNil(e.infeasible)
        XCTAssertGreaterThan(e.mfu, 0.2); XCTAssertLessThan(e.mfu, 0.7)
    }

    /// A worked example by hand: 8 devices at $3.00 per device-hour cost $24 an hour, $1/150 a
    /// second. A 2 s step of 8,192 tokens (4,096 tokens/s) then costs 2/150 = $0.01333, and a
    /// million tokens (244.14 steps, 488.28 s) cost 10⁶ / (150 · 4,096) = $1.6276.
    func testRentalCostWorkedByHand() {
        var time = TrainingEstimate.Time()
        time.compute = 1.5; time.dataCommunication = 0.5
        let e = TrainingEstimate(plan: ParallelPlan(dp: 8), devices: 8, microBatches: 1, parameters: 0, parametersPerDevice: 0,
                                 modelFLOPsPerStep: 0, executedFLOPsPerStep: 0, memory: .init(), time: time,
                                 samplesPerSecond: 32, tokensPerSecond: 4096, mfu: 0, tflopsPerDevice: 0,
                                 energyJoulesPerStep: 0, joulesPerToken: 0)
        let cost = e.rentalCost(pricePerDeviceHour: 3)
        XCTAssertEqual(cost.perStep, 0.013333, accuracy: 1e-6)
        XCTAssertEqual(cost.perMillionTokens, 1.627604, accuracy: 1e-6)
    }

    /// A small job on one priced DGX node: the estimate's dollars are the price of 8 device-hours
    /// over the step's 16 × 128 tokens; without a price, or when the plan does not fit, none.
    func testDollarsPerMillionTokensOfASmallJob() throws {
        let small = GPTSpec(layers: 4, hidden: 256, heads: 4, sequenceLength: 128, vocabulary: 1000)
        var priced = dgxA100
        priced.pricePerHourUSD = 2; priced.priceSource = "test fixture"
        let plan = ParallelPlan(dp: 8, tp: 1, pp: 1, microBatch: 2)
        let e = try TrainingJob(model: small, globalBatch: 16, cluster: try Cluster(profile: priced, nodes: 1), plan: plan).estimate()
        let step = e.time.step, tokens = 16.0 * 128
        XCTAssertEqual(e.tokensPerSecond, tokens / step, accuracy: 1e-9 * e.tokensPerSecond)
        let perMillion = try XCTUnwrap(e.dollarsPerMillionTokens)
        XCTAssertEqual(perMillion, 2 * 8 / 3600 * step / tokens * 1e6, accuracy: 1e-9 * perMillion)
        XCTAssertEqual(try XCTUnwrap(e.dollarsPerStep), 2 * 8 / 3600 * step, accuracy: 1e-12)
        XCTAssertEqual(perMillion, try XCTUnwrap(e.dollarsPerStep) / tokens * 1e6, accuracy: 1e-9 * perMillion)

        let unpriced = try TrainingJob(model: small, globalBatch: 16, cluster: try Cluster(profile: dgxA100, nodes: 1), plan: plan).estimate()
        XCTAssertNil(unpriced.dollarsPerMillionTokens)
        XCTAssertNil(unpriced.dollarsPerStep)

        var tiny = priced
        tiny.memoryGiB = 0.001
        let crammed = try TrainingJob(model: small, globalBatch: 16, cluster: try Cluster(profile: tiny, nodes: 1), plan: plan).estimate()
        XCTAssertNotNil(crammed.infeasible)
        XCTAssertNil(crammed.dollarsPerMillionTokens)
        XCTAssertEqual(crammed.rentalCost(pricePerDeviceHour: 2).perMillionTokens, perMillion, accuracy: 1e-9 * perMillion)

        // The estimate's JSON carries them under their own keys, and leaves them out when unknown.
        let keys = { (e: TrainingEstimate) in
            try (JSONSerialization.jsonObject(with: JSONEncoder().encode(e)) as? [String: Any]).map { Set($0.keys) } ?? []
        }
        XCTAssertTrue(try keys(e).isSuperset(of: ["dollarsPerMillionTokens", "dollarsPerStep"]))
        XCTAssertTrue(try keys(unpriced).isDisjoint(with: ["dollarsPerMillionTokens", "dollarsPerStep"]))
    }

    func testPlanConstraints() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        func check(_ plan: ParallelPlan, _ key: String, model: GPTSpec = gpt3) {
            XCTAssertThrowsError(try TrainingJob(model: model, globalBatch: 64, cluster: cluster, plan: plan).estimate()) {
                XCTAssertEqual(($0 as? PlanError)?.key, key, "\($0)")
            }
        }
        check(ParallelPlan(dp: 2, tp: 4, pp: 1), "dp")                 // 8 ≠ 16 devices
        check(ParallelPlan(dp: 1, tp: 16, pp: 1), "tp", model: GPTSpec(layers: 4, hidden: 1200, heads: 12, sequenceLength: 64, vocabulary: 100))
        check(ParallelPlan(dp: 1, tp: 1, pp: 16), "pp", model: GPTSpec(layers: 4, hidden: 64, heads: 4, sequenceLength: 64, vocabulary: 100))
        check(ParallelPlan(dp: 16, tp: 1, pp: 1, microBatch: 3), "global_batch")
        check(ParallelPlan(dp: 8, tp: 1, pp: 2, zero: 2), "zero")
    }

    /// One layer is traced; the whole model's parameters are counted by multiplying it, and agree
    /// with building every layer.
    func testOneTracedLayerCountsTheWholeModel() throws {
        let gpt = GPTSpec(layers: 5, hidden: 64, heads: 4, sequenceLength: 16, vocabulary: 100)
        let trace = try TransformerTrace(model: gpt, microBatch: 2, precision: .bf16)
        let full = try Model(spec: .gpt(gpt), inputShape: [16], classes: 100, context: ExecutionContext(mode: .meta), seed: 0)
        XCTAssertEqual(trace.totalParameters, full.parameterCount)
        // A GPT layer: 4h² + 4h (attention) + 8h² + 5h (MLP, ratio 4) + 4h (two layer norms) = 12h² + 13h.
        XCTAssertEqual(trace.blockParameters, 12 * 64 * 64 + 13 * 64)
        XCTAssertEqual(trace.optimizerParameters, trace.totalParameters - 4 * trace.blockParameters)
    }
}

/// ZeRO-3's gathered layer in a whole estimate.
final class GatheredLayerTests: XCTestCase {
    /// A GPT of vocabulary 1000 and hidden 64: its largest layer is the token embedding,
    /// 1000 × 64 = 64,000 parameters (the MLP's first matrix has 64 × 256 + 256 = 16,640), so
    /// ZeRO-3 gathers 2 + 2 bytes × 64,000 = 256,000 bytes in BF16; split over tp = 2 by the
    /// vocabulary, 128,000. Stages 0–2 gather nothing.
    func testZeRO3GathersTheLargestLayer() throws {
        let model = GPTSpec(layers: 2, hidden: 64, heads: 4, sequenceLength: 32, vocabulary: 1000)
        var profile = try ProfileLibrary.profile(named: "A100-SXM-80GB")
        profile.interconnect.devicesPerNode = 4
        let cluster = try Cluster(profile: profile, nodes: 1, devicesPerNode: 4)
        func gathered(tp: Int, zero: Int) throws -> Double {
            let plan = ParallelPlan(dp: 4 / tp, tp: tp, zero: zero, precision: .bf16)
            return try TrainingJob(model: model, globalBatch: 4 / tp, cluster: cluster, plan: plan).estimate().memory.gatheredLayer
        }
        XCTAssertEqual(try gathered(tp: 1, zero: 3), 256_000)
        XCTAssertEqual(try gathered(tp: 2, zero: 3), 128_000)
        XCTAssertEqual(try gathered(tp: 1, zero: 2), 0)
    }

    /// ZeRO-3 on 4 ranks with the optimizer, then the parameters, offloaded: the device keeps
    /// 2Ψ/4 of 16-bit parameters, then none; the host per node (4 devices) holds 16Ψ/4 per rank,
    /// then 18Ψ/4; fetching the parameter partition for the forward and the backward adds
    /// 2 × 2Ψ/4 bytes over the 32 GB/s PCIe link to the step.
    func testParameterOffloadMovesThePartitionToTheHost() throws {
        let model = GPTSpec(layers: 2, hidden: 64, heads: 4, sequenceLength: 32, vocabulary: 1000)
        let cluster = try Cluster(profile: try ProfileLibrary.profile(named: "A100-SXM-80GB"), nodes: 1, devicesPerNode: 4)
        func estimate(_ parameters: Bool) throws -> TrainingEstimate {
            let plan = ParallelPlan(dp: 4, zero: 3, offload: true, offloadParameters: parameters, precision: .bf16)
            return try TrainingJob(model: model, globalBatch: 4, cluster: cluster, plan: plan).estimate()
        }
        let optimizer = try estimate(false), both = try estimate(true)
        let psi = both.parametersPerDevice
        XCTAssertEqual(optimizer.memory.parameters, 2 * psi / 4)
        XCTAssertEqual(both.memory.parameters, 0)
        XCTAssertEqual(both.memory.gatheredLayer, 256_000)
        XCTAssertEqual(optimizer.memory.host, 4 * 16 * psi / 4, accuracy: 1e-6)
        XCTAssertEqual(both.memory.host, 4 * 18 * psi / 4, accuracy: 1e-6)
        XCTAssertEqual(both.time.dataCommunication - optimizer.time.dataCommunication, 2 * 2 * psi / 4 / 32e9, accuracy: 1e-15)
        XCTAssertThrowsError(try TrainingJob(model: model, globalBatch: 4, cluster: cluster,
                                             plan: ParallelPlan(dp: 4, zero: 2, offload: true, offloadParameters: true)).estimate()) {
            XCTAssertEqual($0 as? PlanError, PlanError("offload_parameters", "parameter offload needs ZeRO stage 3 with the optimizer offloaded too"))
        }
    }
}

/// A plan in a format the device has no units for is refused, not priced at another format's rate.
final class PrecisionUnitsTests: XCTestCase {
    func testFormatsTheDeviceLacksAreRefused() throws {
        let model = GPTSpec(layers: 2, hidden: 64, heads: 4, sequenceLength: 32, vocabulary: 1000)
        func estimate(_ name: String, _ precision: FloatFormat) throws -> TrainingEstimate {
            let cluster = try Cluster(profile: try ProfileLibrary.profile(named: name), nodes: 1, devicesPerNode: 1)
            return try TrainingJob(model: model, globalBatch: 1, cluster: cluster, plan: ParallelPlan(precision: precision)).estimate()
        }
        XCTAssertThrowsError(try estimate("A100-SXM-80GB", .fp8)) { e in
            XCTAssertEqual(e as? PlanError, PlanError("precision", "A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16"))
        }
        XCTAssertThrowsError(try estimate("V100-SXM2-32GB", .bf16)) { e in
            XCTAssertEqual(e as? PlanError, PlanError("precision", "V100-SXM2-32GB has no bf16 units; it trains in fp32, fp16"))
        }
        // On an H100 FP8 runs on its own units, at twice the BF16 peak.
        XCTAssertEqual(try estimate("H100-SXM-80GB", .fp8).plan.precision, .fp8)
        XCTAssertNoThrow(try estimate("V100-SXM2-32GB", .fp16))
    }

    /// A plan that names no format trains in BF16 where the device has BF16 units, else FP16.
    func testDefaultPrecisionIsOneTheDeviceHas() throws {
        func format(_ name: String) throws -> FloatFormat { ParallelPlan.defaultPrecision(on: try ProfileLibrary.profile(named: name)) }
        XCTAssertEqual(try format("A100-SXM-80GB"), .bf16)
        XCTAssertEqual(try format("TPU-v4"), .bf16)
        XCTAssertEqual(try format("V100-SXM2-32GB"), .fp16)
        XCTAssertEqual(try format("T4"), .fp16)
    }
}

/// The single changes tried on a plan that does not fit, and the first that fits.
final class PlanFittingTests: XCTestCase {
    let model = GPTSpec(layers: 4, hidden: 256, heads: 8, sequenceLength: 128, vocabulary: 1000)

    func job(memoryGiB: Double, _ plan: ParallelPlan) throws -> TrainingJob {
        var profile = try ProfileLibrary.profile(named: "A100-SXM-80GB")
        profile.memoryGiB = memoryGiB
        return TrainingJob(model: model, globalBatch: 16, cluster: try Cluster(profile: profile, nodes: 1, devicesPerNode: 8), plan: plan)
    }

    /// From dp 8, ZeRO 0, no recomputation, micro-batch 2: ZeRO 1, 2, 3, selective and full
    /// recomputation, tp 2 (dp 4), pp 2 (dp 4), micro-batch 1, and offload (which needs ZeRO ≥ 1,
    /// so this plan's offload neighbour breaks a constraint and is never chosen).
    func testNeighboursInTheDocumentedOrder() throws {
        let n = try job(memoryGiB: 80, ParallelPlan(dp: 8, microBatch: 2)).neighbours()
        XCTAssertEqual(n.map(\.option), ["--zero 1", "--zero 2", "--zero 3", "--checkpointing selective", "--checkpointing full",
                                         "--tp 2 --dp 4", "--pp 2 --dp 4", "--micro-batch 1", "--offload"])
    }

    /// With the device's memory set to what the ZeRO-2 plan needs, ZeRO-1 is 2Ψ(1 − 1/8) bytes
    /// too big (its 16-bit gradients whole, not an eighth each) and ZeRO-2 fits exactly: the first
    /// change that fits is `--zero 2`.
    func testTheFirstChangeThatFits() throws {
        let zero1 = try job(memoryGiB: 80, ParallelPlan(dp: 8, zero: 1)).estimate()
        let zero2 = try job(memoryGiB: 80, ParallelPlan(dp: 8, zero: 2)).estimate()
        let psi = zero1.parametersPerDevice
        XCTAssertEqual(zero1.memory.total - zero2.memory.total, 2 * psi * (1 - 1.0 / 8), accuracy: 1)
        let tight = try job(memoryGiB: zero2.memory.total / 1_073_741_824, ParallelPlan(dp: 8))
        XCTAssertNotNil(try tight.estimate().infeasible)
        let change = try XCTUnwrap(tight.fittingChange())
        XCTAssertEqual(change.option, "--zero 2")
        XCTAssertEqual(change.memory, zero2.memory.total, accuracy: 1)
        // Nothing fits in a kilobyte.
        XCTAssertNil(try job(memoryGiB: 1e-6, ParallelPlan(dp: 8)).fittingChange())
    }
}
