import Foundation

/// A model architecture as data: the search varies these fields, the engine builds the model.
///
/// JSON carries a `family` and that family's fields at the same level:
///
///     {"family": "mlp", "widths": [512, 512], "activation": "relu"}
///     {"family": "cnn", "stages": [{"channels": 32, "kernel": 3, "pool": "max"}], "head": [128]}
///     {"family": "vit", "patch": 7, "dim": 64, "depth": 2, "heads": 4, "mlp_ratio": 2}
///     {"family": "gpt", "layers": 2, "hidden": 64, "heads": 4, "sequence_length": 32, "vocabulary": 64}
public enum ArchitectureSpec: Codable, Equatable, Sendable {
    case mlp(MLPSpec)
    case cnn(CNNSpec)
    case vit(ViTSpec)
    case gpt(GPTSpec)

    public static let families = ["mlp", "cnn", "vit", "gpt"]

    public var family: String {
        switch self {
        case .mlp: return "mlp"
        case .cnn: return "cnn"
        case .vit: return "vit"
        case .gpt: return "gpt"
        }
    }

    private enum FamilyKey: String, CodingKey { case family }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FamilyKey.self)
        let family = try c.decode(String.self, forKey: .family)
        switch family {
        case "mlp": self = .mlp(try MLPSpec(from: decoder))
        case "cnn": self = .cnn(try CNNSpec(from: decoder))
        case "vit": self = .vit(try ViTSpec(from: decoder))
        case "gpt": self = .gpt(try GPTSpec(from: decoder))
        default:
            throw ConfigError.unknownName(family, kind: "family", among: Self.families, keyPath: decoder.keyPath("family"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FamilyKey.self)
        try c.encode(family, forKey: .family)
        switch self {
        case .mlp(let s): try s.encode(to: encoder)
        case .cnn(let s): try s.encode(to: encoder)
        case .vit(let s): try s.encode(to: encoder)
        case .gpt(let s): try s.encode(to: encoder)
        }
    }
}

/// Normalisation after a hidden layer.
public enum NormKind: String, Codable, Sendable, CaseIterable { case none, batch, layer }

/// Pooling at the end of a CNN stage.
public enum PoolKind: String, Codable, Sendable, CaseIterable { case none, max, avg }

/// Multi-layer perceptron: Linear → [norm] → activation → [dropout] per hidden width.
public struct MLPSpec: Codable, Equatable, Sendable {
    static let owner = "an mlp architecture"
    public var widths: [Int]
    public var activation: ActivationKind = .relu
    public var dropout: Float = 0
    public var norm: NormKind = .none

    public init(widths: [Int], activation: ActivationKind = .relu, dropout: Float = 0, norm: NormKind = .none) {
        self.widths = widths; self.activation = activation; self.dropout = dropout; self.norm = norm
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case widths, activation, dropout, norm }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["family"] + CodingKeys.allCases.map(\.rawValue), owner: Self.owner)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        widths = try c.decode([Int].self, forKey: .widths)
        activation = try c.decodeIfPresent(ActivationKind.self, forKey: .activation) ?? .relu
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        norm = try c.decodeIfPresent(NormKind.self, forKey: .norm) ?? .none
    }
}

/// One stage of a CNN: `blocks` conv blocks at one width, then optional pooling.
public struct CNNStage: Codable, Equatable, Sendable {
    public var channels: Int
    public var blocks: Int = 1
    public var kernel: Int = 3
    /// Stride of the stage's first block.
    public var stride: Int = 1
    /// Depthwise-separable convolutions instead of full ones.
    public var depthwise = false
    /// Blocks after the first are residual (two convs around a skip connection).
    public var residual = false
    public var batchnorm = false
    public var pool: PoolKind = .none

    public init(channels: Int, blocks: Int = 1, kernel: Int = 3, stride: Int = 1, depthwise: Bool = false,
                residual: Bool = false, batchnorm: Bool = false, pool: PoolKind = .none) {
        self.channels = channels; self.blocks = blocks; self.kernel = kernel; self.stride = stride
        self.depthwise = depthwise; self.residual = residual; self.batchnorm = batchnorm; self.pool = pool
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case channels, blocks, kernel, stride, depthwise, residual, batchnorm, pool }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a cnn stage")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        channels = try c.decode(Int.self, forKey: .channels)
        blocks = try c.decodeIfPresent(Int.self, forKey: .blocks) ?? 1
        kernel = try c.decodeIfPresent(Int.self, forKey: .kernel) ?? 3
        stride = try c.decodeIfPresent(Int.self, forKey: .stride) ?? 1
        depthwise = try c.decodeIfPresent(Bool.self, forKey: .depthwise) ?? false
        residual = try c.decodeIfPresent(Bool.self, forKey: .residual) ?? false
        batchnorm = try c.decodeIfPresent(Bool.self, forKey: .batchnorm) ?? false
        pool = try c.decodeIfPresent(PoolKind.self, forKey: .pool) ?? .none
    }
}

/// Convolutional network: stages of conv blocks, then a fully connected head.
public struct CNNSpec: Codable, Equatable, Sendable {
    static let owner = "a cnn architecture"
    public var stages: [CNNStage]
    /// Hidden widths of the fully connected head.
    public var head: [Int] = []
    public var activation: ActivationKind = .relu
    public var dropout: Float = 0
    /// Global average pooling before the head instead of flattening.
    public var globalPool = false

    public init(stages: [CNNStage], head: [Int] = [], activation: ActivationKind = .relu, dropout: Float = 0, globalPool: Bool = false) {
        self.stages = stages; self.head = head; self.activation = activation; self.dropout = dropout; self.globalPool = globalPool
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case stages, head, activation, dropout
        case globalPool = "global_pool"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["family"] + CodingKeys.allCases.map(\.rawValue), owner: Self.owner)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stages = try c.decode([CNNStage].self, forKey: .stages)
        head = try c.decodeIfPresent([Int].self, forKey: .head) ?? []
        activation = try c.decodeIfPresent(ActivationKind.self, forKey: .activation) ?? .relu
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        globalPool = try c.decodeIfPresent(Bool.self, forKey: .globalPool) ?? false
    }
}

/// Small vision transformer: patch embedding, pre-norm blocks, mean-pooled tokens, linear head.
public struct ViTSpec: Codable, Equatable, Sendable {
    static let owner = "a vit architecture"
    public var patch: Int
    public var dim: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Int = 4
    public var dropout: Float = 0

    public init(patch: Int, dim: Int, depth: Int, heads: Int, mlpRatio: Int = 4, dropout: Float = 0) {
        self.patch = patch; self.dim = dim; self.depth = depth; self.heads = heads; self.mlpRatio = mlpRatio; self.dropout = dropout
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case patch, dim, depth, heads, dropout
        case mlpRatio = "mlp_ratio"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["family"] + CodingKeys.allCases.map(\.rawValue), owner: Self.owner)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        patch = try c.decode(Int.self, forKey: .patch)
        dim = try c.decode(Int.self, forKey: .dim)
        depth = try c.decode(Int.self, forKey: .depth)
        heads = try c.decode(Int.self, forKey: .heads)
        mlpRatio = try c.decodeIfPresent(Int.self, forKey: .mlpRatio) ?? 4
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
    }
}

/// GPT-style decoder: token + position embeddings, causal pre-norm blocks, final LayerNorm and a
/// language-model head tied to the token embedding (as GPT-2 and Narayanan et al. 2021 count it).
///
/// The shape keys after `mlp_ratio` describe the decoders trained since (Llama 3, Mixtral):
/// grouped-query attention (`kv_heads`), a SwiGLU MLP with its own width (`mlp`, `ffn_hidden`),
/// RMSNorm, rotary positions, an untied output layer, no biases and a mixture of experts
/// (`experts`, `top_k`, `capacity_factor`). The engine trains the GPT-2 shape; the other shapes are
/// costed (`autotune estimate`, the meta evaluator), not built (see `GPTSpec+Shape.swift`).
public struct GPTSpec: Codable, Equatable, Sendable {
    static let owner = "a gpt architecture"
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var sequenceLength: Int
    public var vocabulary: Int
    public var mlpRatio: Int = 4
    public var dropout: Float = 0
    /// Key/value heads of grouped-query attention (Ainslie et al. 2023); nil for one per query head.
    public var kvHeads: Int?
    /// The MLP's inner width; nil for `mlpRatio` × `hidden`.
    public var ffnHidden: Int?
    public var mlp: MLPKind = .gelu
    public var norm: TransformerNorm = .layerNorm
    public var positions: PositionEncoding = .learned
    /// Whether the language-model head shares the token embedding's weight.
    public var tiedEmbeddings = true
    /// Whether the linear layers and norms add biases (GPT-2, GPT-3) or not (Llama, Mixtral).
    public var bias = true
    /// Experts in each MLP (1: a dense MLP), the experts each token is routed to, and the capacity
    /// factor that pads each expert's tokens (nil: dropless, no padding).
    public var experts = 1
    public var topK = 1
    public var capacityFactor: Double?

    public init(layers: Int, hidden: Int, heads: Int, sequenceLength: Int, vocabulary: Int, mlpRatio: Int = 4, dropout: Float = 0) {
        self.layers = layers; self.hidden = hidden; self.heads = heads
        self.sequenceLength = sequenceLength; self.vocabulary = vocabulary; self.mlpRatio = mlpRatio; self.dropout = dropout
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, hidden, heads, vocabulary, dropout
        case sequenceLength = "sequence_length"
        case mlpRatio = "mlp_ratio"
        case kvHeads = "kv_heads"
        case ffnHidden = "ffn_hidden"
        case mlp, norm, positions
        case tiedEmbeddings = "tied_embeddings"
        case bias, experts
        case topK = "top_k"
        case capacityFactor = "capacity_factor"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["family"] + CodingKeys.allCases.map(\.rawValue), owner: Self.owner)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layers = try c.decode(Int.self, forKey: .layers)
        hidden = try c.decode(Int.self, forKey: .hidden)
        heads = try c.decode(Int.self, forKey: .heads)
        sequenceLength = try c.decode(Int.self, forKey: .sequenceLength)
        vocabulary = try c.decode(Int.self, forKey: .vocabulary)
        mlpRatio = try c.decodeIfPresent(Int.self, forKey: .mlpRatio) ?? 4
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        kvHeads = try c.decodeIfPresent(Int.self, forKey: .kvHeads)
        ffnHidden = try c.decodeIfPresent(Int.self, forKey: .ffnHidden)
        func name<T: RawRepresentable & CaseIterable & Decodable>(_ key: CodingKeys, _: T.Type) throws -> T? where T.RawValue == String {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let value = T(rawValue: text) else {
                throw ConfigError.unknownName(text, kind: key.rawValue, among: T.allCases.map(\.rawValue),
                                              keyPath: ConfigError.keyPath(c.codingPath + [key]))
            }
            return value
        }
        mlp = try name(.mlp, MLPKind.self) ?? .gelu
        norm = try name(.norm, TransformerNorm.self) ?? .layerNorm
        positions = try name(.positions, PositionEncoding.self) ?? .learned
        tiedEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tiedEmbeddings) ?? true
        bias = try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true
        experts = try c.decodeIfPresent(Int.self, forKey: .experts) ?? 1
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? 1
        capacityFactor = try c.decodeIfPresent(Double.self, forKey: .capacityFactor)
    }

    /// The GPT-2 keys always; a shape key only when it differs from the GPT-2 default, so a GPT-2
    /// architecture reads back as it was written.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layers, forKey: .layers); try c.encode(hidden, forKey: .hidden); try c.encode(heads, forKey: .heads)
        try c.encode(vocabulary, forKey: .vocabulary); try c.encode(dropout, forKey: .dropout)
        try c.encode(sequenceLength, forKey: .sequenceLength); try c.encode(mlpRatio, forKey: .mlpRatio)
        try c.encodeIfPresent(kvHeads, forKey: .kvHeads); try c.encodeIfPresent(ffnHidden, forKey: .ffnHidden)
        if mlp != .gelu { try c.encode(mlp, forKey: .mlp) }
        if norm != .layerNorm { try c.encode(norm, forKey: .norm) }
        if positions != .learned { try c.encode(positions, forKey: .positions) }
        if !tiedEmbeddings { try c.encode(tiedEmbeddings, forKey: .tiedEmbeddings) }
        if !bias { try c.encode(bias, forKey: .bias) }
        if experts != 1 { try c.encode(experts, forKey: .experts); try c.encode(topK, forKey: .topK) }
        try c.encodeIfPresent(capacityFactor, forKey: .capacityFactor)
    }
}
