import Foundation

/// How the learning rate moves over a run: an optional linear warmup, then a decay shape over the
/// steps that remain.
///
/// Steps count from 0 (the first update). During warmup (`step < warmupSteps`) the rate is
/// base·(step + 1)/warmupSteps, so the first step is not wasted at rate 0 (as in llm.c's
/// `train_gpt2`); the decay shape then runs over s = step − warmupSteps of
/// T = totalSteps − warmupSteps steps:
/// - constant: base;
/// - step: base·γ^⌊s / stepSize⌋ (PyTorch's `StepLR`);
/// - cosine: min + (base − min)·(1 + cos(π·s/T))/2, held at `min` after T (Loshchilov & Hutter
///   2017, SGDR, without restarts; PyTorch's `CosineAnnealingLR` with `eta_min`).
///
/// In JSON: `{"name": "cosine", "warmup_steps": 100, "min_lr": 0}`,
/// `{"name": "step", "step_size": 1000, "gamma": 0.1}`, `{"name": "constant"}`.
///
///     let schedule = LearningRateSchedule(.cosine(minimum: 0), warmupSteps: 100)
///     schedule.rate(atStep: 550, totalSteps: 1000, base: 1e-3)   // 5e-4: the cosine midpoint
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// The shape after warmup.
    public enum Decay: Equatable, Sendable {
        case constant
        /// Multiply by `gamma` every `stepSize` steps.
        case step(stepSize: Int, gamma: Float)
        /// Half a cosine from the base rate down to `minimum` (an absolute rate).
        case cosine(minimum: Float)

        /// The name used in JSON.
        public var name: String {
            switch self {
            case .constant: return "constant"
            case .step: return "step"
            case .cosine: return "cosine"
            }
        }
    }

    /// Every name the JSON form accepts.
    public static let names = ["constant", "step", "cosine"]

    public var decay: Decay
    public var warmupSteps: Int

    public init(_ decay: Decay = .constant, warmupSteps: Int = 0) {
        self.decay = decay
        self.warmupSteps = warmupSteps
    }

    /// The rate for `step` (0-based) of a run of `totalSteps` updates starting from `base`.
    public func rate(atStep step: Int, totalSteps: Int, base: Float) -> Float {
        precondition(step >= 0, "learning-rate schedule asked for step \(step)")
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let s = step - warmupSteps
        switch decay {
        case .constant:
            return base
        case .step(let stepSize, let gamma):
            return base * Float(pow(Double(gamma), Double(s / stepSize)))
        case .cosine(let minimum):
            let span = max(1, totalSteps - warmupSteps)
            let progress = Double(min(s, span)) / Double(span)
            return minimum + (base - minimum) * Float((1 + cos(Double.pi * progress)) / 2)
        }
    }

    /// Throws the first value that cannot be used, naming it under `keyPath`
    /// (e.g. `training.schedule`).
    public func validate(keyPath: String = "schedule") throws {
        func at(_ key: String) -> String { ConfigError.join(keyPath, key) }
        guard warmupSteps >= 0 else {
            throw ConfigError(keyPath: at("warmup_steps"), reason: "must be at least 0, got \(warmupSteps)")
        }
        switch decay {
        case .constant:
            break
        case .step(let stepSize, let gamma):
            guard stepSize > 0 else {
                throw ConfigError(keyPath: at("step_size"), reason: "must be positive, got \(stepSize)")
            }
            guard gamma > 0, gamma.isFinite else {
                throw ConfigError(keyPath: at("gamma"), reason: "must be positive, got \(ConfigError.format(gamma))")
            }
        case .cosine(let minimum):
            guard minimum >= 0, minimum.isFinite else {
                throw ConfigError(keyPath: at("min_lr"), reason: "must be at least 0, got \(ConfigError.format(minimum))")
            }
        }
    }

    private enum Key: String, CodingKey, CaseIterable {
        case name, warmupSteps = "warmup_steps", minimum = "min_lr", stepSize = "step_size", gamma
    }

    /// The keys each name accepts besides `name` and `warmup_steps`.
    private static func keys(for name: String) -> [Key] {
        switch name {
        case "step": return [.stepSize, .gamma]
        case "cosine": return [.minimum]
        default: return []
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let path = ConfigError.keyPath(decoder.codingPath)
        let name = try container.configValue(String.self, .name, expected: "a string")
        guard let name else {
            throw ConfigError(keyPath: ConfigError.join(path, "name"),
                              reason: "missing (one of \(Self.names.joined(separator: ", ")))")
        }
        guard Self.names.contains(name) else {
            throw ConfigError.unknownName(name, kind: "schedule", among: Self.names,
                                          keyPath: ConfigError.join(path, "name"))
        }
        let allowed = [Key.name, .warmupSteps] + Self.keys(for: name)
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: allowed.map(\.rawValue),
                                          otherKeys: Key.allCases.map(\.rawValue), owner: "the \(name) schedule")
        warmupSteps = try container.configValue(Int.self, .warmupSteps, expected: "a whole number") ?? 0
        switch name {
        case "step":
            guard let stepSize = try container.configValue(Int.self, .stepSize, expected: "a whole number") else {
                throw ConfigError(keyPath: ConfigError.join(path, "step_size"), reason: "required by the step schedule")
            }
            decay = .step(stepSize: stepSize, gamma: try container.configValue(Float.self, .gamma, expected: "a number") ?? 0.1)
        case "cosine":
            decay = .cosine(minimum: try container.configValue(Float.self, .minimum, expected: "a number") ?? 0)
        default:
            decay = .constant
        }
        try validate(keyPath: path)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(decay.name, forKey: .name)
        try container.encode(warmupSteps, forKey: .warmupSteps)
        switch decay {
        case .constant:
            break
        case .step(let stepSize, let gamma):
            try container.encode(stepSize, forKey: .stepSize)
            try container.encode(gamma, forKey: .gamma)
        case .cosine(let minimum):
            try container.encode(minimum, forKey: .minimum)
        }
    }
}
