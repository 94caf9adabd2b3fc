import Engine

/// One step of a compression pipeline, as a candidate's `compression` list gives it:
///
///     "compression": [
///       {"method": "distill", "teacher": {"architecture": {"family": "cnn", ...}}, "temperature": 4, "alpha": 0.9},
///       {"method": "prune", "sparsity": 0.9, "schedule": "cubic", "epochs": 3},
///       {"method": "quantize", "mode": "ptq", "bits": 8, "per_channel": true, "range": "percentile"}
///     ]
///
/// `distill` and `l1` change how the candidate trains (and every fine-tune after it); the other
/// steps run after training, in order, each optionally followed by `epochs` of fine-tuning.
/// A quantization step must be the last (its model is for inference).
public enum CompressionStep: Codable, Equatable, Sendable {
    case quantize(QuantizeStep)
    case prune(PruneStep)
    case pruneChannels(ChannelPruneStep)
    case distill(DistillStep)
    case lowRank(LowRankStep)
    case share(ShareStep)
    case l1(L1Step)

    public static let methods = ["quantize", "prune", "prune_channels", "distill", "lowrank", "share", "l1"]

    public var method: String {
        switch self {
        case .quantize: return "quantize"
        case .prune: return "prune"
        case .pruneChannels: return "prune_channels"
        case .distill: return "distill"
        case .lowRank: return "lowrank"
        case .share: return "share"
        case .l1: return "l1"
        }
    }

    /// Fine-tuning epochs after the step (0 for the training-time steps).
    public var epochs: Int {
        switch self {
        case .quantize(let s): return s.mode == .qat ? s.epochs : 0
        case .prune(let s): return s.epochs
        case .pruneChannels(let s): return s.epochs
        case .lowRank(let s): return s.epochs
        case .share(let s): return s.epochs
        case .distill, .l1: return 0
        }
    }

    /// Fine-tuning learning rate (nil: a tenth of the candidate's).
    public var learningRate: Float? {
        switch self {
        case .quantize(let s): return s.learningRate
        case .prune(let s): return s.learningRate
        case .pruneChannels(let s): return s.learningRate
        case .lowRank(let s): return s.learningRate
        case .share(let s): return s.learningRate
        case .distill, .l1: return nil
        }
    }

    private enum MethodKey: String, CodingKey { case method }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: MethodKey.self)
        let method = try c.decode(String.self, forKey: .method)
        switch method {
        case "quantize": self = .quantize(try QuantizeStep(from: decoder))
        case "prune": self = .prune(try PruneStep(from: decoder))
        case "prune_channels": self = .pruneChannels(try ChannelPruneStep(from: decoder))
        case "distill": self = .distill(try DistillStep(from: decoder))
        case "lowrank": self = .lowRank(try LowRankStep(from: decoder))
        case "share": self = .share(try ShareStep(from: decoder))
        case "l1": self = .l1(try L1Step(from: decoder))
        default: throw ConfigError.unknownName(method, kind: "compression method", among: Self.methods, keyPath: decoder.keyPath("method"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: MethodKey.self)
        try c.encode(method, forKey: .method)
        switch self {
        case .quantize(let s): try s.encode(to: encoder)
        case .prune(let s): try s.encode(to: encoder)
        case .pruneChannels(let s): try s.encode(to: encoder)
        case .distill(let s): try s.encode(to: encoder)
        case .lowRank(let s): try s.encode(to: encoder)
        case .share(let s): try s.encode(to: encoder)
        case .l1(let s): try s.encode(to: encoder)
        }
    }
}

/// Reads one step's keys with range checks, every error naming its key path.
struct StepReader {
    let decoder: Decoder
    let c: KeyedDecodingContainer<AnyStepKey>

    init(_ decoder: Decoder, keys: [String], owner: String) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["method"] + keys, owner: owner)
        self.decoder = decoder
        c = try decoder.container(keyedBy: AnyStepKey.self)
    }

    func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: decoder.keyPath(key), reason: reason) }

    func has(_ key: String) -> Bool { c.contains(AnyStepKey(key)) }

    func value<T: Decodable>(_ key: String, _ type: T.Type = T.self) throws -> T? { try c.decodeIfPresent(T.self, forKey: AnyStepKey(key)) }

    func double(_ key: String, default d: Double? = nil, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = try value(key, Double.self) ?? d else { return nil }
        guard range.contains(v) else { throw fail(key, "must be in \(range.lowerBound)…\(range.upperBound), got \(v)") }
        return v
    }

    func int(_ key: String, default d: Int, in range: ClosedRange<Int>) throws -> Int {
        let v = try value(key, Int.self) ?? d
        guard range.contains(v) else { throw fail(key, "must be in \(range.lowerBound)…\(range.upperBound), got \(v)") }
        return v
    }

    func name(_ key: String, default d: String, among names: [String]) throws -> String {
        let v = try value(key, String.self) ?? d
        guard names.contains(v) else { throw ConfigError.unknownName(v, kind: key.replacingOccurrences(of: "_", with: " "), among: names, keyPath: decoder.keyPath(key)) }
        return v
    }

    func learningRate() throws -> Float? {
        guard let lr = try value("lr", Double.self) else { return nil }
        guard lr > 0, lr.isFinite else { throw fail("lr", "must be positive, got \(lr)") }
        return Float(lr)
    }
}

struct AnyStepKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Writes a step's keys (the inverse of `StepReader`).
struct StepWriter {
    var c: KeyedEncodingContainer<AnyStepKey>
    init(_ encoder: Encoder) { c = encoder.container(keyedBy: AnyStepKey.self) }
    mutating func put<T: Encodable>(_ key: String, _ v: T?) throws { try c.encodeIfPresent(v, forKey: AnyStepKey(key)) }
}
