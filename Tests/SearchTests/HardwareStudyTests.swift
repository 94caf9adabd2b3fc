import Engine
import Foundation
import Parallel
import XCTest
@testable import Search

/// Studies that cost candidates on hardware profiles: `metric@profile` objectives for engine
/// studies, and the meta evaluator's training-config studies.
final class HardwareStudyTests: XCTestCase {
    func parse(_ text: String) throws -> StudySpec { try SpaceFile.parse(Data(text.utf8), file: "s.json") }

    func reason(_ text: String) -> String {
        do { _ = try parse(text); return "parsed" } catch let e as InputFileError { return e.reason } catch { return "\(error)" }
    }

    static let engine = #""architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}}, "evaluator": {"engine": {"data": {"dataset": "spirals"}}}"#
    static let model = #"{"family": "gpt", "layers": 8, "hidden": 512, "heads": 8, "sequence_length": 256, "vocabulary": 1000}"#
    static func meta(_ extra: String = "") -> String {
        #"{"evaluator": {"meta": {"model": \#(model), "hardware": "A100-SXM-80GB", "nodes": 2, "global_batch": 64\#(extra)}}, "#
    }

    func testHardwareObjectivesAreCheckedAgainstTheLibrary() throws {
        let spec = try parse(#"{\#(Self.engine), "objectives": {"accuracy": "maximize", "latency_ms@jetson-orin-nano": "minimize"}, "constraints": [{"metric": "memory_mb@Raspberry-Pi-5", "<=": 4}]}"#)
        XCTAssertEqual(spec.objectives.map(\.metric), ["accuracy", "latency_ms@jetson-orin-nano"])
        XCTAssertTrue(reason(#"{\#(Self.engine), "objectives": {"latency_ms@jetson-orin-nanoo": "minimize"}}"#)
            .hasPrefix("objectives.latency_ms@jetson-orin-nanoo: unknown hardware profile 'jetson-orin-nanoo' (valid: V100-SXM2-32GB, "))
        XCTAssertTrue(reason(#"{\#(Self.engine), "objectives": {"latency_ms@jetson-orin-nanoo": "minimize"}}"#).hasSuffix("Did you mean 'Jetson-Orin-Nano'?"))
        XCTAssertEqual(reason(#"{\#(Self.engine), "objectives": {"latncy_ms@L4": "minimize"}}"#),
                       "objectives.latncy_ms@L4: unknown hardware metric 'latncy_ms' (valid: latency_ms, throughput, memory_mb, energy_mj). Did you mean 'latency_ms'?")
        XCTAssertEqual(reason(#"{\#(Self.engine), "objectives": {"latency_ms@missing/profile.json": "minimize"}}"#),
                       "objectives.latency_ms@missing/profile.json: missing/profile.json: no such file")
    }

    func testMetaStudyParsesAndEvaluates() throws {
        let text = Self.meta() + #""parallelism": {"tp": {"_type": "choice", "_value": [1, 2, 4, 8]}, "micro_batch": 2}, "precision": "bf16", "objectives": {"tokens_per_second": "maximize", "memory_gib": "minimize"}}"#
        let spec = try parse(text)
        guard case .meta(let meta) = spec.evaluator else { return XCTFail("\(spec.evaluator)") }
        XCTAssertEqual(meta.nodes, 2); XCTAssertEqual(meta.globalBatch, 64)
        XCTAssertEqual(meta.model.layers, 8)
        XCTAssertEqual(meta.cluster.devices, 16)
    }

    func testMetaEvaluatorDerivesDPAndFailsBrokenPlans() throws {
        let gpt = GPTSpec(layers: 8, hidden: 512, heads: 8, sequenceLength: 256, vocabulary: 1000)
        let a100 = try ProfileLibraryLookup.a100()
        let evaluator = MetaEvaluator(model: gpt, cluster: try .init(profile: a100, nodes: 2), globalBatch: 64)
        func candidate(_ parallelism: String) throws -> JSONValue {
            try JSONValue(parsing: #"{"parallelism": \#(parallelism), "precision": "bf16"}"#)
        }
        let plan = try MetaEvaluator.plan(try candidate(#"{"tp": 4, "pp": 2}"#), devices: evaluator.cluster.devices)
        XCTAssertEqual(plan.dp, 2)
        let r = try evaluator.evaluate(try candidate(#"{"tp": 4, "pp": 2, "micro_batch": 4}"#), parameters: []) { _, _ in true }
        XCTAssertGreaterThan(r.metrics["tokens_per_second"]!, 0)
        XCTAssertEqual(r.metrics["memory_excess_gib"], 0)
        XCTAssertEqual(Set(r.metrics.keys), Set(MetaEvaluator.metrics))
        XCTAssertThrowsError(try evaluator.evaluate(try candidate(#"{"tp": 16}"#), parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "parallelism.tp: 16 does not divide the 8 attention heads")
        }
        XCTAssertThrowsError(try evaluator.evaluate(try candidate(#"{"tp": 3}"#), parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "parallelism: tp × pp = 3 does not divide the cluster's 16 devices")
        }
        XCTAssertThrowsError(try evaluator.evaluate(try candidate(#"{"tp": 8, "micro_batch": 3}"#), parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "parallelism.global_batch: 64 is not divisible by dp × micro-batch = 2 × 3")
        }
    }

    func testMetaEvaluatorPricesTokensAtTheProfilesRate() throws {
        let gpt = GPTSpec(layers: 8, hidden: 512, heads: 8, sequenceLength: 256, vocabulary: 1000)
        let candidate = try JSONValue(parsing: #"{"parallelism": {"tp": 4, "pp": 2, "micro_batch": 4}}"#)
        let a100 = try ProfileLibraryLookup.a100()
        let priced = MetaEvaluator(model: gpt, cluster: try .init(profile: a100, nodes: 2), globalBatch: 64, requested: ["usd_per_mtoken"])
        let m = try priced.evaluate(candidate, parameters: []) { _, _ in true }.metrics
        // 16 devices at $5.1207 an hour, over the tokens they train in a second.
        XCTAssertEqual(m["usd_per_mtoken"]!, 5.1207 * 16 / 3600 / m["tokens_per_second"]! * 1e6, accuracy: 1e-9 * m["usd_per_mtoken"]!)
        XCTAssertEqual(m["usd_per_mtoken"]!, 5.1207 * 16 / 3600 * m["step_seconds"]! / (64 * 256) * 1e6, accuracy: 1e-9 * m["usd_per_mtoken"]!)

        // A plan that does not fit is still priced, so its constraint ranks it.
        var small = a100
        small.memoryGiB = 0.01
        let crammed = try MetaEvaluator(model: gpt, cluster: try .init(profile: small, nodes: 2), globalBatch: 64)
            .evaluate(candidate, parameters: []) { _, _ in true }.metrics
        XCTAssertGreaterThan(crammed["memory_excess_gib"]!, 0)
        XCTAssertEqual(crammed["usd_per_mtoken"]!, m["usd_per_mtoken"]!, accuracy: 1e-9 * m["usd_per_mtoken"]!)

        // Without a price the metric is not reported; a study that asks for it fails each trial saying why.
        var bought = a100
        bought.name = "my-a100"; bought.pricePerHourUSD = nil; bought.priceSource = nil
        let unasked = MetaEvaluator(model: gpt, cluster: try .init(profile: bought, nodes: 2), globalBatch: 64, requested: ["tokens_per_second"])
        let metrics = try unasked.evaluate(candidate, parameters: []) { _, _ in true }.metrics
        XCTAssertNil(metrics["usd_per_mtoken"])
        XCTAssertEqual(Set(metrics.keys), Set(MetaEvaluator.metrics).subtracting(["usd_per_mtoken"]))
        let asked = MetaEvaluator(model: gpt, cluster: try .init(profile: bought, nodes: 2), globalBatch: 64,
                                  requested: ["tokens_per_second", "usd_per_mtoken"])
        XCTAssertThrowsError(try asked.evaluate(candidate, parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "usd_per_mtoken: hardware profile 'my-a100' has no price_per_hour_usd (give one in a profile file named by evaluator.meta.hardware, or leave usd_per_mtoken out of the objectives and constraints)")
        }
    }

    /// A built-in shape by name is the architecture it names, stored whole for recipes and exports;
    /// cp and ep are plan keys, checked per candidate.
    func testBuiltInShapeByNameAndContextAndExpertKeys() throws {
        let spec = try parse(#"{"evaluator": {"meta": {"model": "mixtral-8x7b", "hardware": "H100-SXM-80GB", "nodes": 8, "global_batch": 256}}, "parallelism": {"ep": {"_type": "choice", "_value": [1, 8]}, "cp": {"_type": "choice", "_value": [1, 2]}}, "objectives": {"tokens_per_second": "maximize"}}"#)
        guard case .meta(let meta) = spec.evaluator else { return XCTFail("not a meta study") }
        XCTAssertEqual(meta.model, ModelShapes.named("mixtral-8x7b"))
        XCTAssertEqual(meta.modelDocument["kv_heads"], .number(8))
        let evaluator = MetaEvaluator(model: meta.model, cluster: meta.cluster, globalBatch: 256)
        let candidate = try JSONValue(parsing: #"{"parallelism": {"tp": 2, "ep": 8, "cp": 2, "zero": 1, "checkpointing": "full"}}"#)
        let metrics = try evaluator.evaluate(candidate, parameters: []) { _, _ in true }.metrics
        XCTAssertGreaterThan(metrics["tokens_per_second"] ?? 0, 0)
        let odd = try JSONValue(parsing: #"{"parallelism": {"tp": 2, "ep": 3}}"#)
        XCTAssertThrowsError(try evaluator.evaluate(odd, parameters: []) { _, _ in true }) {
            XCTAssertEqual("\($0)", "parallelism.ep: 3 does not divide the data-parallel size 32 (expert-parallel ranks are data-parallel ranks)")
        }
    }

    func testCostPerTokenIsAnObjectiveOfAMetaStudy() throws {
        let spec = try parse(Self.meta() + #""parallelism": {"tp": {"_type": "choice", "_value": [1, 2, 4, 8]}}, "objectives": {"tokens_per_second": "maximize", "usd_per_mtoken": "minimize"}, "constraints": [{"metric": "usd_per_mtoken", "<=": 50}]}"#)
        XCTAssertEqual(spec.objectives, [Objective("tokens_per_second", .maximize), Objective("usd_per_mtoken", .minimize)])
        XCTAssertEqual(spec.constraints, [MetricConstraint("usd_per_mtoken", .atMost, 50)])
    }

    func testBadMetaFiles() {
        let objectives = #""objectives": {"tokens_per_second": "maximize"}}"#
        XCTAssertEqual(reason(Self.meta() + #""architecture": {"family": "mlp", "widths": [8]}, "# + objectives),
                       "architecture: the meta evaluator searches only parallelism and precision")
        XCTAssertEqual(reason(Self.meta() + #""parallelism": {"tensor": 2}, "# + objectives),
                       "parallelism.tensor: unknown parallelism setting 'tensor' (valid: dp, tp, pp, zero, micro_batch, grad_accum, checkpointing, sequence_parallel, offload, offload_parameters, schedule, virtual_stages, scatter_gather, overlap_grad_reduce, overlap_param_gather, flash_attention, cp, ep, first_stage_layers, last_stage_layers, overlap_tp_comm)")
        XCTAssertTrue(reason(Self.meta() + #""objectives": {"throughput": "maximize"}}"#)
            .hasPrefix("objectives.throughput: unknown metric 'throughput' (valid: tokens_per_second, "))
        XCTAssertEqual(reason(#"{"evaluator": {"meta": {"model": {"family": "gpt", "layers": 2, "hidden": 30, "heads": 4, "sequence_length": 8, "vocabulary": 10}, "hardware": "L4", "global_batch": 8}}, "# + objectives),
                       "evaluator.meta.model.heads: 4 does not divide hidden 30")
        XCTAssertTrue(reason(#"{"evaluator": {"meta": {"model": "llama3-7b", "hardware": "L4", "global_batch": 8}}, "# + objectives)
            .hasPrefix("evaluator.meta.model: unknown model 'llama3-7b'"))
        XCTAssertEqual(reason(#"{"evaluator": {"meta": {"model": {"family": "gpt", "layers": 2, "hidden": 32, "heads": 4, "kv_heads": 3, "sequence_length": 8, "vocabulary": 10}, "hardware": "L4", "global_batch": 8}}, "# + objectives),
                       "evaluator.meta.model.kv_heads: 3 does not divide the 4 attention heads")
        XCTAssertEqual(reason(Self.meta(#", "gpus_per_node": 16"#) + objectives),
                       "evaluator.meta.gpus_per_node: 16 devices per node, but a A100-SXM-80GB node holds at most 8")
        XCTAssertEqual(reason(#"{"evaluator": {"meta": {"model": \#(Self.model), "hardware": "host", "global_batch": 8}}, "# + objectives),
                       "evaluator.meta.hardware: the meta evaluator costs clusters; name a built-in profile or a profile file")
    }
}

import Hardware

/// The built-in A100 profile, for tests.
enum ProfileLibraryLookup {
    static func a100() throws -> HardwareProfile { try ProfileLibrary.profile(named: "A100-SXM-80GB") }
}

extension HardwareStudyTests {
    /// A meta study on A100s leaves FP8 out of its precision choice with a note, and refuses a
    /// precision section with no format the device has.
    func testMetaPrecisionKeepsTheFormatsTheDeviceHas() throws {
        let objectives = #""objectives": {"tokens_per_second": "maximize"}}"#
        let spec = try parse(Self.meta() + #""precision": {"_type": "choice", "_value": ["bf16", "fp8", "fp16"]}, "# + objectives)
        XCTAssertEqual(spec.notes, ["precision: fp8 left out of the search: A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16"])
        XCTAssertEqual(try parse(Self.meta() + #""precision": {"_type": "choice", "_value": ["bf16", "fp16"]}, "# + objectives).space,
                       spec.space)
        XCTAssertEqual(reason(Self.meta() + #""precision": "fp8", "# + objectives),
                       "precision: A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16")
        XCTAssertEqual(reason(Self.meta() + #""precision": {"format": {"_type": "choice", "_value": ["fp8"]}}, "# + objectives),
                       "precision.format: A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16")
        XCTAssertEqual(try parse(Self.meta() + #""precision": "bf16", "# + objectives).notes, [])
    }
}
