import Foundation

/// How a candidate is trained: optimizer, schedule, batch, length, clipping, accumulation, seed.
///
///     {"optimizer": {"name": "adam", "lr": 0.001}, "schedule": {"name": "cosine", "warmup_steps": 50},
///      "batch_size": 128, "epochs": 5, "grad_clip": 1.0, "accumulation": 1, "seed": 0, "threads": 2}
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var optimizer: OptimizerConfig
    public var schedule: LearningRateSchedule
    public var batchSize: Int
    public var epochs: Int
    /// Optimizer steps to take instead of whole epochs (the last epoch may be partial).
    public var steps: Int?
    /// Global-norm gradient clipping threshold.
    public var gradientClip: Float?
    /// Micro-batches whose gradients are summed (averaged) before each optimizer step.
    public var accumulation: Int
    public var seed: UInt64
    /// Threads for GEMM and the other kernels (default: every core).
    public var threads: Int?

    public init(optimizer: OptimizerConfig, schedule: LearningRateSchedule = LearningRateSchedule(), batchSize: Int = 128, epochs: Int = 1,
                steps: Int? = nil, gradientClip: Float? = nil, accumulation: Int = 1, seed: UInt64 = 0, threads: Int? = nil) {
        self.optimizer = optimizer; self.schedule = schedule; self.batchSize = batchSize; self.epochs = epochs
        self.steps = steps; self.gradientClip = gradientClip; self.accumulation = accumulation; self.seed = seed; self.threads = threads
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case optimizer, schedule, epochs, steps, accumulation, seed, threads
        case batchSize = "batch_size"
        case gradientClip = "grad_clip"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "training")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        optimizer = try c.decode(OptimizerConfig.self, forKey: .optimizer)
        schedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule) ?? LearningRateSchedule()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 128
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? 1
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        gradientClip = try c.decodeIfPresent(Float.self, forKey: .gradientClip)
        accumulation = try c.decodeIfPresent(Int.self, forKey: .accumulation) ?? 1
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
    }

    /// Range checks, with key paths under `prefix`.
    public func validate(at prefix: String = "training") throws {
        func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: prefix + "." + key, reason: reason) }
        if batchSize < 1 { throw fail("batch_size", "must be ≥ 1, got \(batchSize)") }
        if epochs < 1 { throw fail("epochs", "must be ≥ 1, got \(epochs)") }
        if let s = steps, s < 1 { throw fail("steps", "must be ≥ 1, got \(s)") }
        if accumulation < 1 { throw fail("accumulation", "must be ≥ 1, got \(accumulation)") }
        if let t = threads, t < 1 { throw fail("threads", "must be ≥ 1, got \(t)") }
        if let g = gradientClip, !(g > 0) { throw fail("grad_clip", "must be positive, got \(g)") }
        try optimizer.validate(keyPath: prefix + ".optimizer")
    }
}
