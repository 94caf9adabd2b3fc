/// The optimizer of a candidate, as written in its JSON file, with the defaults of each optimizer.
///
///     {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-8}
///     {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4}
///
/// Only `name` is required. Each name takes its own keys (`sgd`: lr, weight_decay, momentum,
/// nesterov; `adam`: lr, betas, eps; `adamw`: those and weight_decay; `lamb`: those and
/// max_trust_ratio); any other key is an error, as is a value out of range, with its key path:
/// `training.optimizer.lr: must be positive, got -1`.
///
///     let config = try JSONDecoder().decode(OptimizerConfig.self, from: data)
///     let optimizer = config.make()
///     optimizer.step(store, learningRate: config.learningRate)
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public enum Name: String, Codable, CaseIterable, Sendable {
        case adamw, adam, sgd, lamb
    }

    public var name: Name
    /// The base learning rate ("lr"); a schedule scales it per step.
    public var learningRate: Float
    public var weightDecay: Float
    public var momentum: Float
    public var nesterov: Bool
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var maxTrustRatio: Float

    /// `name` with every value not given set to that optimizer's default: lr 1e-3 (SGD 0.01),
    /// weight decay 0.01 for AdamW and LAMB and 0 otherwise, momentum 0, betas (0.9, 0.999),
    /// eps 1e-8 (LAMB 1e-6), max trust ratio 10 — the defaults of the types they make.
    public init(_ name: Name, learningRate: Float? = nil, weightDecay: Float? = nil, momentum: Float? = nil,
                nesterov: Bool? = nil, betas: (Float, Float)? = nil, epsilon: Float? = nil,
                maxTrustRatio: Float? = nil) {
        self.name = name
        self.learningRate = learningRate ?? (name == .sgd ? 0.01 : 1e-3)
        self.weightDecay = weightDecay ?? (name == .adamw || name == .lamb ? 0.01 : 0)
        self.momentum = momentum ?? 0
        self.nesterov = nesterov ?? false
        self.beta1 = betas?.0 ?? 0.9
        self.beta2 = betas?.1 ?? 0.999
        self.epsilon = epsilon ?? (name == .lamb ? 1e-6 : 1e-8)
        self.maxTrustRatio = maxTrustRatio ?? 10
    }

    /// The optimizer this describes. Call `validate` first on values that did not come through
    /// decoding (which validates).
    public func make() -> Optimizer {
        switch name {
        case .sgd: return SGD(momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: return AdamW.adam(beta1: beta1, beta2: beta2, epsilon: epsilon)
        case .adamw: return AdamW(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        case .lamb:
            return LAMB(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                        maxTrustRatio: maxTrustRatio)
        }
    }

    /// Throws the first value that cannot be used, naming it under `keyPath`
    /// (e.g. `training.optimizer`).
    public func validate(keyPath: String = "optimizer") throws {
        func fail(_ key: String, _ reason: String) -> ConfigError {
            ConfigError(keyPath: ConfigError.join(keyPath, key), reason: reason)
        }
        let f = ConfigError.format
        guard learningRate > 0, learningRate.isFinite else { throw fail("lr", "must be positive, got \(f(learningRate))") }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw fail("weight_decay", "must be at least 0, got \(f(weightDecay))")
        }
        if name == .adam, weightDecay != 0 {
            throw fail("weight_decay", "adam has no weight decay (use adamw), got \(f(weightDecay))")
        }
        guard momentum >= 0, momentum < 1 else { throw fail("momentum", "must be in [0, 1), got \(f(momentum))") }
        if nesterov, momentum == 0 { throw fail("nesterov", "needs momentum > 0") }
        for (index, beta) in [beta1, beta2].enumerated() where !(beta >= 0 && beta < 1) {
            throw fail("betas[\(index)]", "must be in [0, 1), got \(f(beta))")
        }
        guard epsilon > 0, epsilon.isFinite else { throw fail("eps", "must be positive, got \(f(epsilon))") }
        guard maxTrustRatio > 0, maxTrustRatio.isFinite else {
            throw fail("max_trust_ratio", "must be positive, got \(f(maxTrustRatio))")
        }
    }

    private enum Key: String, CodingKey, CaseIterable {
        case name, learningRate = "lr", weightDecay = "weight_decay", momentum, nesterov, betas
        case epsilon = "eps", maxTrustRatio = "max_trust_ratio"
    }

    /// The keys `name` takes.
    private static func keys(for name: Name) -> [Key] {
        switch name {
        case .sgd: return [.name, .learningRate, .weightDecay, .momentum, .nesterov]
        case .adam: return [.name, .learningRate, .betas, .epsilon]
        case .adamw: return [.name, .learningRate, .weightDecay, .betas, .epsilon]
        case .lamb: return [.name, .learningRate, .weightDecay, .betas, .epsilon, .maxTrustRatio]
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let path = ConfigError.keyPath(decoder.codingPath)
        let names = Name.allCases.map(\.rawValue)
        guard let text = try container.configValue(String.self, .name, expected: "a string") else {
            throw ConfigError(keyPath: ConfigError.join(path, "name"),
                              reason: "missing (one of \(names.joined(separator: ", ")))")
        }
        guard let name = Name(rawValue: text) else {
            throw ConfigError.unknownName(text, kind: "optimizer", among: names, keyPath: ConfigError.join(path, "name"))
        }
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: Self.keys(for: name).map(\.rawValue),
                                          otherKeys: Key.allCases.map(\.rawValue), owner: name.rawValue)
        var betas: (Float, Float)?
        if let list = try container.configValue([Float].self, .betas, expected: "two numbers [beta1, beta2]") {
            guard list.count == 2 else {
                throw ConfigError(keyPath: ConfigError.join(path, "betas"),
                                  reason: "expected two numbers [beta1, beta2], got \(list.count)")
            }
            betas = (list[0], list[1])
        }
        self.init(name,
                  learningRate: try container.configValue(Float.self, .learningRate, expected: "a number"),
                  weightDecay: try container.configValue(Float.self, .weightDecay, expected: "a number"),
                  momentum: try container.configValue(Float.self, .momentum, expected: "a number"),
                  nesterov: try container.configValue(Bool.self, .nesterov, expected: "true or false"),
                  betas: betas,
                  epsilon: try container.configValue(Float.self, .epsilon, expected: "a number"),
                  maxTrustRatio: try container.configValue(Float.self, .maxTrustRatio, expected: "a number"))
        try validate(keyPath: path)
    }

    /// Writes `name` and the keys that name takes, so the output decodes back to the same value.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for key in Self.keys(for: name) {
            switch key {
            case .name: try container.encode(name, forKey: key)
            case .learningRate: try container.encode(learningRate, forKey: key)
            case .weightDecay: try container.encode(weightDecay, forKey: key)
            case .momentum: try container.encode(momentum, forKey: key)
            case .nesterov: try container.encode(nesterov, forKey: key)
            case .betas: try container.encode([beta1, beta2], forKey: key)
            case .epsilon: try container.encode(epsilon, forKey: key)
            case .maxTrustRatio: try container.encode(maxTrustRatio, forKey: key)
            }
        }
    }
}
