import Engine

/// Gradual pruning: sparsity rises from an initial to a final value along a cubic, pruning every
/// `frequency` steps (Zhu & Gupta 2017, To prune, or not to prune, eq. 1).
///
/// With t₀ = `startStep` and t₀ + nΔt = `endStep`:
/// s_t = s_f + (s_i − s_f)·(1 − (t − t₀)/(nΔt))³ on [t₀, t₀ + nΔt], s_i before and s_f after.
/// The cubic prunes fast while many redundant weights remain and slowly near the target. A one-shot
/// schedule has `startStep == endStep`.
///
/// In JSON: `{"initial_sparsity": 0, "final_sparsity": 0.9, "start_step": 0, "end_step": 2000,
/// "frequency": 100}` (`initial_sparsity`, `start_step` default to 0, `frequency` to 1).
///
///     let s = GradualSchedule(initialSparsity: 0, finalSparsity: 0.8, startStep: 0, endStep: 100, frequency: 10)
///     s.sparsity(atStep: 50)   // 0.8 − 0.8·0.5³ = 0.7
public struct GradualSchedule: Codable, Equatable, Sendable {
    public var initialSparsity: Double
    public var finalSparsity: Double
    public var startStep: Int
    public var endStep: Int
    public var frequency: Int

    public init(initialSparsity: Double = 0, finalSparsity: Double, startStep: Int = 0, endStep: Int, frequency: Int = 1) {
        self.initialSparsity = initialSparsity
        self.finalSparsity = finalSparsity
        self.startStep = startStep
        self.endStep = endStep
        self.frequency = frequency
    }

    /// Prune once, straight to `sparsity`, at `step`.
    public static func oneShot(sparsity: Double, atStep step: Int = 0) -> GradualSchedule {
        GradualSchedule(initialSparsity: 0, finalSparsity: sparsity, startStep: step, endStep: step, frequency: 1)
    }

    /// The target sparsity at `step`.
    public func sparsity(atStep step: Int) -> Double {
        if step < startStep { return initialSparsity }
        if step >= endStep { return finalSparsity }
        let remaining = 1 - Double(step - startStep) / Double(endStep - startStep)
        let value = finalSparsity + (initialSparsity - finalSparsity) * remaining * remaining * remaining
        // Every rounded step above is monotone in `step`; the clamp keeps s_f + (s_i − s_f) from
        // landing an ulp below s_i at t₀, so the whole schedule never decreases.
        return min(max(value, initialSparsity), finalSparsity)
    }

    /// Whether masks are recomputed at `step`: every `frequency` steps from `startStep`, and at
    /// `endStep` so the final sparsity is always reached.
    public func isPruningStep(_ step: Int) -> Bool {
        guard step >= startStep, step <= endStep else { return false }
        return step == endStep || (step - startStep) % max(frequency, 1) == 0
    }

    /// Throws the first value that cannot be used, naming it under `keyPath` (e.g. `pruning.schedule`).
    public func validate(keyPath: String = "") throws {
        func at(_ key: String) -> String { ConfigError.join(keyPath, key) }
        guard finalSparsity.isFinite, finalSparsity >= 0, finalSparsity < 1 else {
            throw ConfigError(keyPath: at(Key.finalSparsity.rawValue), reason: "must be in [0, 1), got \(finalSparsity)")
        }
        guard initialSparsity.isFinite, initialSparsity >= 0, initialSparsity <= finalSparsity else {
            throw ConfigError(keyPath: at(Key.initialSparsity.rawValue),
                              reason: "must be between 0 and final_sparsity (\(finalSparsity)), got \(initialSparsity)")
        }
        guard startStep >= 0 else {
            throw ConfigError(keyPath: at(Key.startStep.rawValue), reason: "must be at least 0, got \(startStep)")
        }
        guard endStep >= startStep else {
            throw ConfigError(keyPath: at(Key.endStep.rawValue), reason: "must be at least start_step (\(startStep)), got \(endStep)")
        }
        guard frequency >= 1 else {
            throw ConfigError(keyPath: at(Key.frequency.rawValue), reason: "must be at least 1, got \(frequency)")
        }
    }

    private enum Key: String, CodingKey, CaseIterable {
        case initialSparsity = "initial_sparsity", finalSparsity = "final_sparsity"
        case startStep = "start_step", endStep = "end_step", frequency
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: Key.allCases.map(\.rawValue), owner: "the pruning schedule")
        let container = try decoder.container(keyedBy: Key.self)
        func value<T: Decodable>(_ type: T.Type, _ key: Key, expected: String) throws -> T? {
            do {
                return try container.decodeIfPresent(type, forKey: key)
            } catch is DecodingError {
                throw ConfigError(keyPath: decoder.keyPath(key.rawValue), reason: "expected \(expected)")
            }
        }
        func required<T: Decodable>(_ type: T.Type, _ key: Key, expected: String) throws -> T {
            guard let v = try value(type, key, expected: expected) else {
                throw ConfigError(keyPath: decoder.keyPath(key.rawValue), reason: "missing (\(expected))")
            }
            return v
        }
        initialSparsity = try value(Double.self, .initialSparsity, expected: "a number") ?? 0
        finalSparsity = try required(Double.self, .finalSparsity, expected: "a number")
        startStep = try value(Int.self, .startStep, expected: "a whole number") ?? 0
        endStep = try required(Int.self, .endStep, expected: "a whole number")
        frequency = try value(Int.self, .frequency, expected: "a whole number") ?? 1
        try validate(keyPath: decoder.keyPath)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(initialSparsity, forKey: .initialSparsity)
        try container.encode(finalSparsity, forKey: .finalSparsity)
        try container.encode(startStep, forKey: .startStep)
        try container.encode(endStep, forKey: .endStep)
        try container.encode(frequency, forKey: .frequency)
    }
}
