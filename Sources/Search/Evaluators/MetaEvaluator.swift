import Engine
import Foundation
import Hardware
import Parallel

/// Costs each candidate training config of a model too large to train here: the GPT is traced
/// shape-only through the engine and the candidate's parallel plan priced on a cluster
/// (`TrainingJob.estimate`) — the job DeepSpeed's autotuner does by launching real runs.
///
/// The candidate's `parallelism` section holds the plan (`ParallelPlan`'s keys: `tp`, `pp` (default
/// 1), `dp` (default devices / (tp·pp)), `zero` (0), `micro_batch` (1), `grad_accum`,
/// `checkpointing` (none, selective, full), `sequence_parallel`, `offload` (false), `schedule`
/// (1f1b, gpipe), `cp` (1), `ep` (1)) and `precision` is a format
/// name (by default bf16, or fp16 on a device without BF16 units) or an object with one under `format`. A plan that breaks a derived
/// constraint (tp must divide the heads and kv heads, tp·pp·cp the devices, ep the data-parallel
/// size and the experts, pp ≤ layers, dp × micro-batch the
/// global batch) fails with the reason, as does one in a format the device has no units for (the
/// space file leaves such formats out of the search beforehand). Metrics: `tokens_per_second`, `samples_per_second`,
/// `step_seconds`, `compute_seconds`, `communication_seconds`, `bubble_seconds`, `memory_gib` (per
/// device), `memory_excess_gib` (over the device's capacity; 0 when it fits), `mfu`,
/// `tflops_per_device`, `joules_per_token`, `parameters_per_device`, and `usd_per_mtoken` (US
/// dollars per million tokens at the profile's `price_per_hour_usd`; reported for plans that do
/// not fit too, like the throughput, so constraints rank them) when the profile has a price. A
/// study that asks for `usd_per_mtoken` on a profile without a price fails every trial saying so.
public final class MetaEvaluator: Evaluator {
    /// The metric names it reports (`MetricCatalogue.meta`).
    public static var metrics: [String] { MetricCatalogue.meta.map(\.name) }
    /// The metric that needs a price: dollars per million tokens.
    public static let costMetric = "usd_per_mtoken"
    /// The keys of a candidate's `parallelism` section.
    public static var planKeys: [String] { ParallelPlan.sectionKeys }

    public let model: GPTSpec
    public let cluster: Cluster
    public let globalBatch: Int
    /// The metrics the study's objectives and constraints name, so that one this evaluator cannot
    /// report fails the trial with the reason rather than as merely missing.
    public let requested: Set<String>
    /// Traces by micro-batch and precision: a study revisits few of them.
    private var traces: [String: TransformerTrace] = [:]

    public init(model: GPTSpec, cluster: Cluster, globalBatch: Int, requested: Set<String> = []) {
        self.model = model; self.cluster = cluster; self.globalBatch = globalBatch; self.requested = requested
    }

    /// The plan a candidate document describes — its `parallelism` section decoded as a
    /// `ParallelPlan`, its `precision` a format name (or an object with one under `format`) —
    /// resolved on `devices` devices.
    public static func plan(_ candidate: JSONValue, devices: Int) throws -> ParallelPlan {
        var plan = ParallelPlan(dp: 0)
        for member in candidate.members ?? [] {
            switch member.key {
            case "parallelism":
                do {
                    plan = try JSONValue.object([member]).decoded(as: PlanSection.self).plan
                } catch let e as ConfigError {
                    throw EvaluationError(e.description)
                } catch let e as DecodingError {
                    throw EvaluationError(describeDecodingError(e))
                }
            case "precision":
                continue
            default:
                throw EvaluationError("\(member.key): the meta evaluator reads only parallelism and precision")
            }
        }
        if let value = candidate["precision"] {
            let format = value["format"] ?? value
            guard case .string(let s) = format, let p = FloatFormat(rawValue: s) else {
                throw EvaluationError("precision: expected one of \(FloatFormat.allCases.map(\.rawValue).joined(separator: ", ")), got \(format.compactText)")
            }
            plan.precision = p
        }
        do { return try plan.resolved(devices: devices) } catch let e as PlanError { throw EvaluationError("parallelism: \(e.reason)") }
    }

    /// `{"parallelism": {...}}`, so that errors carry the section's key path.
    private struct PlanSection: Decodable {
        let plan: ParallelPlan
        enum CodingKeys: String, CodingKey { case parallelism }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let section = try c.superDecoder(forKey: .parallelism)
            if let precision = try section.container(keyedBy: AnyKey.self).allKeys.first(where: { $0.stringValue == "precision" }) {
                throw ConfigError(keyPath: "parallelism.\(precision.stringValue)", reason: "precision is a section of its own, beside parallelism")
            }
            plan = try ParallelPlan(from: section)
        }
    }

    public func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                         report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        let price = cluster.profile.pricePerHourUSD
        if price == nil, requested.contains(Self.costMetric) {
            throw EvaluationError("\(Self.costMetric): hardware profile '\(cluster.profile.name)' has no price_per_hour_usd "
                                  + "(give one in a profile file named by evaluator.meta.hardware, or leave \(Self.costMetric) out of the objectives and constraints)")
        }
        var plan = try Self.plan(candidate, devices: cluster.devices)
        if candidate["precision"] == nil { plan.precision = ParallelPlan.defaultPrecision(on: cluster.profile) }
        let job = TrainingJob(model: model, globalBatch: globalBatch, cluster: cluster, plan: plan)
        let m: Int
        do {
            try model.checkCostable(microBatch: plan.microBatch)
            m = try plan.validate(model, devices: cluster.devices, globalBatch: globalBatch)
        }
        catch let e as PlanError { throw EvaluationError("parallelism.\(e.key): \(e.reason)") }
        do { try plan.checkPrecision(on: cluster.profile) } catch let e as PlanError { throw EvaluationError("precision: \(e.reason)") }
        let key = "\(plan.microBatch)/\(plan.precision.rawValue)"
        let trace = try traces[key] ?? TransformerTrace(model: model, microBatch: plan.microBatch, precision: plan.precision)
        traces[key] = trace
        let e = job.estimate(trace: trace, microBatches: m)
        let gib = 1_073_741_824.0
        var metrics: [String: Double] = [
            "tokens_per_second": e.tokensPerSecond, "samples_per_second": e.samplesPerSecond, "step_seconds": e.time.step,
            "compute_seconds": e.time.compute, "communication_seconds": e.time.communication, "bubble_seconds": e.time.bubble,
            "memory_gib": e.memory.total / gib, "memory_excess_gib": max(0, e.memory.total - cluster.profile.memoryBytes) / gib,
            "mfu": e.mfu, "tflops_per_device": e.tflopsPerDevice, "joules_per_token": e.joulesPerToken,
            "parameters_per_device": e.parametersPerDevice,
        ]
        if let price { metrics[Self.costMetric] = e.rentalCost(pricePerDeviceHour: price).perMillionTokens }
        return EvaluationResult(metrics: metrics)
    }
}
