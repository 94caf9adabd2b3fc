import Engine

/// The number format a candidate trains and runs in, and its loss scaling.
///
/// A string names the format (`"bf16"`); an object also sets DeepSpeed's loss-scaling keys, which
/// mean what they mean in a DeepSpeed `fp16` section (`loss_scale` 0 is dynamic):
///
///     "precision": {"dtype": "fp16", "loss_scale": 0, "initial_scale_power": 16,
///                   "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1}
///
/// FP16 defaults to dynamic loss scaling (its range is narrow); BF16 and TF32 to none.
public struct PrecisionConfig: Codable, Equatable, Sendable {
    public var format: FloatFormat
    /// 0: dynamic; a positive number: that fixed scale; nil: no scaling.
    public var lossScale: Float?
    public var initialScalePower: Int
    public var lossScaleWindow: Int
    public var hysteresis: Int
    public var minLossScale: Float

    public init(_ format: FloatFormat = .fp32, lossScale: Float? = nil, initialScalePower: Int = 16, lossScaleWindow: Int = 1000,
                hysteresis: Int = 2, minLossScale: Float = 1) {
        self.format = format
        self.lossScale = lossScale ?? (format == .fp16 ? 0 : nil)
        self.initialScalePower = initialScalePower; self.lossScaleWindow = lossScaleWindow
        self.hysteresis = hysteresis; self.minLossScale = minLossScale
    }

    public static let fp32 = PrecisionConfig()

    /// The loss scaler this config asks for, or nil.
    public func makeScaler() -> LossScaler? {
        guard let s = lossScale else { return nil }
        if s > 0 { return LossScaler.fixed(s) }
        return LossScaler(initialScalePower: initialScalePower, window: lossScaleWindow, hysteresis: hysteresis, minimumScale: minLossScale)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dtype, hysteresis
        case lossScale = "loss_scale", initialScalePower = "initial_scale_power"
        case lossScaleWindow = "loss_scale_window", minLossScale = "min_loss_scale"
    }

    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            self.init(try Self.format(name, keyPath: decoder.keyPath))
            return
        }
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "precision")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try Self.format(c.decodeIfPresent(String.self, forKey: .dtype) ?? "fp32", keyPath: decoder.keyPath("dtype"))
        self.init(format,
                  lossScale: try c.decodeIfPresent(Float.self, forKey: .lossScale),
                  initialScalePower: try c.decodeIfPresent(Int.self, forKey: .initialScalePower) ?? 16,
                  lossScaleWindow: try c.decodeIfPresent(Int.self, forKey: .lossScaleWindow) ?? 1000,
                  hysteresis: try c.decodeIfPresent(Int.self, forKey: .hysteresis) ?? 2,
                  minLossScale: try c.decodeIfPresent(Float.self, forKey: .minLossScale) ?? 1)
        try validate(at: decoder.keyPath)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format.rawValue, forKey: .dtype)
        try c.encodeIfPresent(lossScale, forKey: .lossScale)
        if lossScale == 0 {
            try c.encode(initialScalePower, forKey: .initialScalePower)
            try c.encode(lossScaleWindow, forKey: .lossScaleWindow)
            try c.encode(hysteresis, forKey: .hysteresis)
            try c.encode(minLossScale, forKey: .minLossScale)
        }
    }

    /// Range checks, with key paths under `prefix`.
    public func validate(at prefix: String = "precision") throws {
        func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: ConfigError.join(prefix, key), reason: reason) }
        if let s = lossScale, !(s >= 0) || !s.isFinite { throw fail("loss_scale", "must be 0 (dynamic) or a positive scale, got \(s)") }
        if !(0...63).contains(initialScalePower) { throw fail("initial_scale_power", "must be in 0…63, got \(initialScalePower)") }
        if lossScaleWindow < 1 { throw fail("loss_scale_window", "must be ≥ 1, got \(lossScaleWindow)") }
        if hysteresis < 1 { throw fail("hysteresis", "must be ≥ 1, got \(hysteresis)") }
        if !(minLossScale > 0) { throw fail("min_loss_scale", "must be positive, got \(minLossScale)") }
    }

    private static func format(_ name: String, keyPath: String) throws -> FloatFormat {
        let names = FloatFormat.trainable.map(\.rawValue)
        guard let f = FloatFormat(rawValue: name), FloatFormat.trainable.contains(f) else {
            if FloatFormat(rawValue: name) != nil {
                throw ConfigError(keyPath: keyPath, reason: "the engine trains in \(names.joined(separator: ", ")); \(name) training is costed by the meta evaluator and estimate")
            }
            throw ConfigError.unknownName(name, kind: "precision", among: names, keyPath: keyPath)
        }
        return f
    }
}
