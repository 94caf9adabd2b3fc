import Engine
import Foundation

/// A candidate with its precision and compression pipeline: everything `autotune eval` needs to
/// train, compress and measure one model, and what a study's best trial exports.
///
///     {"architecture": {"family": "mlp", "widths": [128]},
///      "training": {"optimizer": {"name": "adam", "lr": 0.001}, "epochs": 2},
///      "data": {"dataset": "fashion-mnist"},
///      "precision": "bf16",
///      "compression": [{"method": "quantize", "mode": "ptq", "bits": 8}]}
public struct Recipe: Codable, Equatable, Sendable {
    public var candidate: Candidate
    public var precision: PrecisionConfig
    public var compression: [CompressionStep]

    public init(candidate: Candidate, precision: PrecisionConfig = .fp32, compression: [CompressionStep] = []) {
        self.candidate = candidate; self.precision = precision; self.compression = compression
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case architecture, training, data, precision, compression }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a candidate")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        candidate = Candidate(architecture: try c.decode(ArchitectureSpec.self, forKey: .architecture),
                              training: try c.decode(TrainingConfig.self, forKey: .training),
                              data: try c.decode(DataConfig.self, forKey: .data))
        precision = try c.decodeIfPresent(PrecisionConfig.self, forKey: .precision) ?? .fp32
        compression = try c.decodeIfPresent([CompressionStep].self, forKey: .compression) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(candidate.architecture, forKey: .architecture)
        try c.encode(candidate.training, forKey: .training)
        try c.encode(candidate.data, forKey: .data)
        if precision != .fp32 { try c.encode(precision, forKey: .precision) }
        if !compression.isEmpty { try c.encode(compression, forKey: .compression) }
    }

    /// Read a recipe (or a plain candidate) file; every problem is an `InputFileError` naming the
    /// file and key path.
    public static func load(path: String) throws -> Recipe {
        let recipe = try loadJSONConfig(Recipe.self, path: path)
        do { try recipe.validate() } catch let e as ConfigError { throw InputFileError(file: path, reason: e.description) }
        return recipe
    }

    /// Checks that need the whole recipe: the training config, the order of the steps, and what
    /// each step asks of the architecture — before any training.
    public func validate() throws {
        try candidate.training.validate()
        try precision.validate()
        for (i, step) in compression.enumerated() {
            let path = "compression[\(i)]"
            if case .quantize = step, i != compression.count - 1 {
                throw ConfigError(keyPath: path, reason: "a quantize step must be the last step (its model runs inference only); move \(compression[i + 1].method) before it")
            }
            switch step {
            case .pruneChannels where !["mlp", "cnn"].contains(candidate.architecture.family):
                throw ConfigError(keyPath: path, reason: "structured pruning supports the mlp and cnn families, not \(candidate.architecture.family)")
            case .distill(let d) where d.rounds > 1 && compression.filter({ $0.method == "distill" }).count > 1:
                throw ConfigError(keyPath: path, reason: "self-distillation rounds need a single distill step")
            default: break
            }
        }
        if compression.filter({ $0.method == "distill" }).count > 1 {
            throw ConfigError(keyPath: "compression", reason: "give one distill step (list several teachers in it)")
        }
    }
}
