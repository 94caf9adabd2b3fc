import Engine

/// Quantize weights (and activations): post-training static (`ptq`: activation ranges from a
/// calibration set), `dynamic` (activation ranges per batch at run time), or quantization-aware
/// training (`qat`: fake-quantized forward, straight-through backward, `epochs` of it).
///
///     {"method": "quantize", "mode": "qat", "bits": 4, "per_channel": true, "epochs": 2}
public struct QuantizeStep: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable, CaseIterable { case ptq, dynamic, qat }
    public var mode: Mode = .ptq
    /// Weight scheme: bits (8, 4, 2, 1 = binary), symmetric, per-channel, levels.
    public var weights = QuantizationScheme(bits: 8, symmetric: true, perChannel: true, levels: .uniform)
    /// Activation bits (8 unless given; activations are per-tensor and asymmetric).
    public var activationBits = 8
    /// How calibration picks activation (and weight) ranges.
    public var range: RangeMethod = .minMax
    public var calibrationSamples = 1024
    public var epochs = 1
    public var learningRate: Float?

    public init(mode: Mode = .ptq, weights: QuantizationScheme = QuantizationScheme(bits: 8, symmetric: true, perChannel: true, levels: .uniform),
                activationBits: Int = 8, range: RangeMethod = .minMax, calibrationSamples: Int = 1024, epochs: Int = 1, learningRate: Float? = nil) {
        self.mode = mode; self.weights = weights; self.activationBits = activationBits; self.range = range
        self.calibrationSamples = calibrationSamples; self.epochs = epochs; self.learningRate = learningRate
    }

    static let keys = ["mode", "bits", "symmetric", "per_channel", "levels", "activation_bits", "range", "percentile",
                       "calibration_samples", "epochs", "lr"]

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: Self.keys, owner: "a quantize step")
        mode = Mode(rawValue: try r.name("mode", default: "ptq", among: Mode.allCases.map(\.rawValue)))!
        let bits = try r.int("bits", default: 8, in: 1...8)
        guard [1, 2, 4, 8].contains(bits) else { throw r.fail("bits", "must be 8, 4, 2 or 1 (binary), got \(bits)") }
        let levels = try r.name("levels", default: "uniform", among: ["uniform", "pow2"])
        weights = QuantizationScheme(bits: bits, symmetric: try r.value("symmetric") ?? true,
                                     perChannel: try r.value("per_channel") ?? true,
                                     levels: levels == "pow2" ? .powerOfTwo : .uniform)
        activationBits = try r.int("activation_bits", default: 8, in: 2...8)
        switch try r.name("range", default: "minmax", among: ["minmax", "percentile", "mse"]) {
        case "percentile": range = .percentile(try r.double("percentile", default: 99.99, in: 50...100)!)
        case "mse": range = .mse
        default: range = .minMax
        }
        if r.has("percentile"), range != .percentile(try r.double("percentile", in: 50...100)!) {
            throw r.fail("percentile", "only applies with \"range\": \"percentile\"")
        }
        calibrationSamples = try r.int("calibration_samples", default: 1024, in: 1...1_000_000)
        epochs = try r.int("epochs", default: 1, in: 0...1000)
        learningRate = try r.learningRate()
        if weights.levels == .powerOfTwo && !weights.symmetric { throw r.fail("levels", "power-of-two levels are symmetric; drop \"symmetric\": false") }
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("mode", mode.rawValue); try w.put("bits", weights.bits); try w.put("symmetric", weights.symmetric)
        try w.put("per_channel", weights.perChannel); try w.put("levels", weights.levels.rawValue)
        try w.put("activation_bits", activationBits)
        switch range {
        case .minMax: try w.put("range", "minmax")
        case .mse: try w.put("range", "mse")
        case .percentile(let p): try w.put("range", "percentile"); try w.put("percentile", p)
        }
        try w.put("calibration_samples", calibrationSamples)
        if mode == .qat { try w.put("epochs", epochs) }
        try w.put("lr", learningRate)
    }
}

/// Unstructured pruning of individual weights, with fine-tuning: one shot, or gradually on Zhu &
/// Gupta's cubic schedule over the first two thirds of the fine-tune.
///
///     {"method": "prune", "sparsity": 0.9, "schedule": "cubic", "scope": "global", "epochs": 3}
public struct PruneStep: Codable, Equatable, Sendable {
    public enum Criterion: String, Codable, Sendable, CaseIterable { case magnitude, taylor }
    public enum Scope: String, Codable, Sendable, CaseIterable { case global, layer }
    public enum Schedule: String, Codable, Sendable, CaseIterable { case cubic, oneshot }
    public var sparsity: Double
    public var criterion: Criterion = .magnitude
    public var scope: Scope = .global
    public var schedule: Schedule = .cubic
    public var epochs = 2
    /// Optimizer steps between pruning steps of the gradual schedule (nil: 20 steps over the ramp).
    public var frequency: Int?
    public var learningRate: Float?

    public init(sparsity: Double, criterion: Criterion = .magnitude, scope: Scope = .global, schedule: Schedule = .cubic,
                epochs: Int = 2, frequency: Int? = nil, learningRate: Float? = nil) {
        self.sparsity = sparsity; self.criterion = criterion; self.scope = scope; self.schedule = schedule
        self.epochs = epochs; self.frequency = frequency; self.learningRate = learningRate
    }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["sparsity", "criterion", "scope", "schedule", "epochs", "frequency", "lr"], owner: "a prune step")
        guard r.has("sparsity") else { throw r.fail("sparsity", "missing required key (the fraction of weights removed)") }
        sparsity = try r.double("sparsity", in: 0...0.999)!
        criterion = Criterion(rawValue: try r.name("criterion", default: "magnitude", among: Criterion.allCases.map(\.rawValue)))!
        scope = Scope(rawValue: try r.name("scope", default: "global", among: Scope.allCases.map(\.rawValue)))!
        schedule = Schedule(rawValue: try r.name("schedule", default: "cubic", among: Schedule.allCases.map(\.rawValue)))!
        epochs = try r.int("epochs", default: 2, in: 0...1000)
        frequency = r.has("frequency") ? try r.int("frequency", default: 1, in: 1...1_000_000) : nil
        learningRate = try r.learningRate()
        if schedule == .cubic && epochs == 0 { throw r.fail("epochs", "a cubic schedule prunes during fine-tuning: needs ≥ 1 epoch") }
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("sparsity", sparsity); try w.put("criterion", criterion.rawValue); try w.put("scope", scope.rawValue)
        try w.put("schedule", schedule.rawValue); try w.put("epochs", epochs); try w.put("frequency", frequency); try w.put("lr", learningRate)
    }
}

/// Structured pruning: whole neurons and channels leave, the layers shrink.
///
///     {"method": "prune_channels", "ratio": 0.5, "norm": "l1", "scope": "conv", "epochs": 1}
public struct ChannelPruneStep: Codable, Equatable, Sendable {
    /// Fraction of every prunable layer's units removed.
    public var ratio: Double
    /// l1 or l2 norm of a unit's weights, or taylor (|w·∂L/∂w| summed over the unit).
    public var criterion: String = "l1"
    public var scope: ChannelScope = .all
    public var epochs = 1
    public var learningRate: Float?

    public init(ratio: Double, criterion: String = "l1", scope: ChannelScope = .all, epochs: Int = 1, learningRate: Float? = nil) {
        self.ratio = ratio; self.criterion = criterion; self.scope = scope; self.epochs = epochs; self.learningRate = learningRate
    }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["ratio", "criterion", "scope", "epochs", "lr"], owner: "a prune_channels step")
        guard r.has("ratio") else { throw r.fail("ratio", "missing required key (the fraction of units removed)") }
        ratio = try r.double("ratio", in: 0...0.99)!
        criterion = try r.name("criterion", default: "l1", among: ["l1", "l2", "taylor"])
        scope = ChannelScope(rawValue: try r.name("scope", default: "all", among: ["all", "conv", "linear"]))!
        epochs = try r.int("epochs", default: 1, in: 0...1000)
        learningRate = try r.learningRate()
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("ratio", ratio); try w.put("criterion", criterion); try w.put("scope", scope.rawValue)
        try w.put("epochs", epochs); try w.put("lr", learningRate)
    }
}

/// Knowledge distillation (Hinton et al. 2015): loss α·T²·KL(teacher ‖ student) + (1 − α)·CE.
/// Teachers are candidates (architecture and training) trained first and cached by their hash;
/// several are averaged; `feature_weight` adds feature distillation of the last hidden layer
/// through a learned projection; `rounds` > 1 repeats with the last student as the teacher.
///
///     {"method": "distill", "teacher": {"architecture": {"family": "cnn", ...}, "training": {...}},
///      "temperature": 4, "alpha": 0.9}
public struct DistillStep: Codable, Equatable, Sendable {
    public var teachers: [TeacherSpec]
    public var temperature: Float = 4
    public var alpha: Float = 0.9
    public var featureWeight: Float = 0
    public var rounds = 1

    public init(teachers: [TeacherSpec], temperature: Float = 4, alpha: Float = 0.9, featureWeight: Float = 0, rounds: Int = 1) {
        self.teachers = teachers; self.temperature = temperature; self.alpha = alpha; self.featureWeight = featureWeight; self.rounds = rounds
    }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["teacher", "teachers", "temperature", "alpha", "feature_weight", "rounds"], owner: "a distill step")
        if let one = try r.value("teacher", TeacherSpec.self) {
            teachers = [one]
        } else {
            teachers = try r.value("teachers", [TeacherSpec].self) ?? []
        }
        rounds = try r.int("rounds", default: 1, in: 1...10)
        if teachers.isEmpty && rounds < 2 {
            throw r.fail("teacher", "missing: give a teacher candidate, or \"rounds\" ≥ 2 for self-distillation")
        }
        temperature = Float(try r.double("temperature", default: 4, in: 0.05...100)!)
        alpha = Float(try r.double("alpha", default: 0.9, in: 0...1)!)
        featureWeight = Float(try r.double("feature_weight", default: 0, in: 0...1000)!)
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("teachers", teachers); try w.put("temperature", temperature); try w.put("alpha", alpha)
        try w.put("feature_weight", featureWeight); try w.put("rounds", rounds)
    }
}

/// A teacher: an architecture and how to train it (on the student's data).
public struct TeacherSpec: Codable, Equatable, Sendable {
    public var architecture: ArchitectureSpec
    public var training: TrainingConfig?

    public init(architecture: ArchitectureSpec, training: TrainingConfig? = nil) { self.architecture = architecture; self.training = training }

    enum CodingKeys: String, CodingKey, CaseIterable { case architecture, training }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a teacher")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(ArchitectureSpec.self, forKey: .architecture)
        training = try c.decodeIfPresent(TrainingConfig.self, forKey: .training)
        try training?.validate(at: decoder.keyPath("training"))
    }
}

/// Low-rank factorization of Linear and Conv2d weights by truncated SVD.
///
///     {"method": "lowrank", "energy": 0.9, "epochs": 1}      or  {"method": "lowrank", "rank": 32}
public struct LowRankStep: Codable, Equatable, Sendable {
    public var choice: RankChoice
    public var epochs = 0
    public var learningRate: Float?

    public init(choice: RankChoice, epochs: Int = 0, learningRate: Float? = nil) { self.choice = choice; self.epochs = epochs; self.learningRate = learningRate }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["rank", "energy", "epochs", "lr"], owner: "a lowrank step")
        switch (r.has("rank"), r.has("energy")) {
        case (true, true): throw r.fail("rank", "give either \"rank\" or \"energy\", not both")
        case (true, false): choice = .rank(try r.int("rank", default: 1, in: 1...1_000_000))
        default: choice = .energy(try r.double("energy", default: 0.9, in: 0.01...1)!)
        }
        epochs = try r.int("epochs", default: 0, in: 0...1000)
        learningRate = try r.learningRate()
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        switch choice {
        case .rank(let k): try w.put("rank", k)
        case .energy(let e): try w.put("energy", e)
        }
        try w.put("epochs", epochs); try w.put("lr", learningRate)
    }
}

/// Weight sharing (Han et al. 2016): a k-means codebook of 2^bits centroids per layer, b-bit
/// indices, centroids fine-tuned for `epochs`.
///
///     {"method": "share", "bits": 4, "epochs": 1}
public struct ShareStep: Codable, Equatable, Sendable {
    public var bits: Int
    public var epochs = 1
    public var learningRate: Float?

    public init(bits: Int, epochs: Int = 1, learningRate: Float? = nil) { self.bits = bits; self.epochs = epochs; self.learningRate = learningRate }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["bits", "epochs", "lr"], owner: "a share step")
        bits = try r.int("bits", default: 4, in: 1...8)
        epochs = try r.int("epochs", default: 1, in: 0...1000)
        learningRate = try r.learningRate()
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("bits", bits); try w.put("epochs", epochs); try w.put("lr", learningRate)
    }
}

/// L1 regularisation of the weights during training: λ·Σ|w| added to the loss (λ·sign(w) to
/// the gradient), which drives weights to zero before magnitude pruning.
public struct L1Step: Codable, Equatable, Sendable {
    public var lambda: Float

    public init(lambda: Float) { self.lambda = lambda }

    public init(from decoder: Decoder) throws {
        let r = try StepReader(decoder, keys: ["lambda"], owner: "an l1 step")
        guard r.has("lambda") else { throw r.fail("lambda", "missing required key (the regularisation strength)") }
        lambda = Float(try r.double("lambda", in: 0...1)!)
    }

    public func encode(to encoder: Encoder) throws {
        var w = StepWriter(encoder)
        try w.put("lambda", lambda)
    }
}
