import Engine
import Hardware

/// A training run someone measured: the GPT, the cluster it ran on, the plan, and what was
/// measured — the input of `autotune calibrate`.
///
///     {"runs": [
///       {"name": "gpt-18b on 32 nodes",
///        "model": {"layers": 40, "hidden": 6144, "heads": 48, "sequence_length": 2048, "vocabulary": 51200},
///        "nodes": 32, "gpus_per_node": 8, "global_batch": 1024,
///        "parallelism": {"tp": 8, "pp": 1, "micro_batch": 8, "checkpointing": "full", "flash_attention": false},
///        "precision": "fp16",
///        "tflops_per_device": 135, "peak_memory_gib": 61.5}]}
///
/// `model` may also be a built-in shape's name (`"llama3-70b"`; see `ModelShapes`). Exactly one
/// measurement: `step_seconds`, `tokens_per_second`, `tflops_per_device` (executed
/// teraFLOP/s per device, recomputation counted) or `mfu` (a fraction). `peak_memory_gib` is
/// optional and only compared. `gpus_per_node` defaults to the profile's, `precision` to the
/// profile's default, a plan key to `ParallelPlan`'s default; `dp` to what the devices leave.
public struct MeasuredRun: Sendable {
    public enum Metric: String, CaseIterable, Sendable {
        case stepSeconds = "step_seconds"
        case tokensPerSecond = "tokens_per_second"
        case tflopsPerDevice = "tflops_per_device"
        case mfu
    }

    public var name: String
    public var model: GPTSpec
    public var nodes: Int
    public var gpusPerNode: Int?
    public var globalBatch: Int
    public var plan: ParallelPlan
    /// The format; nil for the profile's default.
    public var precision: FloatFormat?
    public var metric: Metric
    public var measured: Double
    public var peakMemoryGiB: Double?

    public init(name: String, model: GPTSpec, nodes: Int, gpusPerNode: Int? = nil, globalBatch: Int, plan: ParallelPlan,
                precision: FloatFormat? = nil, metric: Metric, measured: Double, peakMemoryGiB: Double? = nil) {
        self.name = name; self.model = model; self.nodes = nodes; self.gpusPerNode = gpusPerNode; self.globalBatch = globalBatch
        self.plan = plan; self.precision = precision; self.metric = metric; self.measured = measured; self.peakMemoryGiB = peakMemoryGiB
    }

    /// The metric read from an estimate.
    public func value(of e: TrainingEstimate) -> Double {
        switch metric {
        case .stepSeconds: return e.time.step
        case .tokensPerSecond: return e.tokensPerSecond
        case .tflopsPerDevice: return e.tflopsPerDevice
        case .mfu: return e.mfu
        }
    }
}

/// A file of measured runs: `{"runs": [...]}`, at least one.
public struct MeasuredRuns: Decodable, Sendable {
    public var runs: [MeasuredRun]

    enum CodingKeys: String, CodingKey, CaseIterable { case runs }

    public init(runs: [MeasuredRun]) { self.runs = runs }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a file of measured runs")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runs = try c.decode([MeasuredRun].self, forKey: .runs)
        guard !runs.isEmpty else { throw ConfigError(keyPath: decoder.keyPath("runs"), reason: "give at least one measured run") }
    }
}

extension MeasuredRun: Decodable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, model, nodes, parallelism, precision
        case gpusPerNode = "gpus_per_node"
        case globalBatch = "global_batch"
        case stepSeconds = "step_seconds"
        case tokensPerSecond = "tokens_per_second"
        case tflopsPerDevice = "tflops_per_device"
        case mfu
        case peakMemoryGiB = "peak_memory_gib"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a measured run")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try? c.decode(String.self, forKey: .model) {
            guard let shape = ModelShapes.named(name) else {
                throw ConfigError(keyPath: decoder.keyPath(CodingKeys.model.rawValue),
                                  reason: "unknown model '\(name)'; built-in: \(ModelShapes.names.joined(separator: ", ")), or an object of the model's shape")
            }
            model = shape
        } else {
            model = try c.decode(GPTSpec.self, forKey: .model)
        }
        do { try ArchitectureSpec.gpt(model).validate(inputShape: [model.sequenceLength], classes: model.vocabulary) }
        catch let e as ConfigError {
            throw ConfigError(keyPath: decoder.keyPath("model") + "." + e.keyPath.replacingOccurrences(of: "architecture.", with: ""),
                              reason: e.reason)
        }
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "\(model.layers)×\(model.hidden)"
        func positiveInt(_ key: CodingKeys) throws -> Int? {
            guard let v = try c.decodeIfPresent(Int.self, forKey: key) else { return nil }
            guard v >= 1 else { throw ConfigError(keyPath: decoder.keyPath(key.rawValue), reason: "must be at least 1, got \(v)") }
            return v
        }
        guard let nodes = try positiveInt(.nodes) else {
            throw ConfigError(keyPath: decoder.keyPath(CodingKeys.nodes.rawValue), reason: "missing required key")
        }
        self.nodes = nodes
        gpusPerNode = try positiveInt(.gpusPerNode)
        guard let batch = try positiveInt(.globalBatch) else {
            throw ConfigError(keyPath: decoder.keyPath(CodingKeys.globalBatch.rawValue), reason: "missing required key")
        }
        globalBatch = batch
        plan = try c.decodeIfPresent(ParallelPlan.self, forKey: .parallelism) ?? ParallelPlan(dp: 0)
        if let text = try c.decodeIfPresent(String.self, forKey: .precision) {
            guard let format = FloatFormat(rawValue: text) else {
                throw ConfigError.unknownName(text, kind: "precision", among: FloatFormat.allCases.map(\.rawValue),
                                              keyPath: decoder.keyPath("precision"))
            }
            precision = format
        }
        var given: [(Metric, Double)] = []
        for m in Metric.allCases {
            if let key = CodingKeys(rawValue: m.rawValue), let v = try c.decodeIfPresent(Double.self, forKey: key) { given.append((m, v)) }
        }
        guard given.count == 1, let (metric, value) = given.first else {
            throw ConfigError(keyPath: decoder.keyPath(given.isEmpty ? "step_seconds" : given[1].0.rawValue),
                              reason: given.isEmpty ? "give one measurement: step_seconds, tokens_per_second, tflops_per_device or mfu"
                                                    : "give one measurement, not both \(given[0].0.rawValue) and \(given[1].0.rawValue)")
        }
        guard value.isFinite, value > 0, metric != .mfu || value <= 1 else {
            throw ConfigError(keyPath: decoder.keyPath(metric.rawValue),
                              reason: metric == .mfu ? "must be a fraction in (0, 1], got \(value)" : "must be a positive number, got \(value)")
        }
        self.metric = metric; measured = value
        peakMemoryGiB = try c.decodeIfPresent(Double.self, forKey: .peakMemoryGiB)
        if let m = peakMemoryGiB, !(m.isFinite && m > 0) {
            throw ConfigError(keyPath: decoder.keyPath("peak_memory_gib"), reason: "must be a positive number, got \(m)")
        }
    }
}
