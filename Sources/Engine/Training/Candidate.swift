import Foundation

/// Everything needed to train and evaluate one model: the file `autotune eval` reads.
///
///     {"architecture": {"family": "mlp", "widths": [128]},
///      "training": {"optimizer": {"name": "adam", "lr": 0.001}, "epochs": 2},
///      "data": {"dataset": "fashion-mnist", "train_subset": 5000}}
public struct Candidate: Codable, Equatable, Sendable {
    public var architecture: ArchitectureSpec
    public var training: TrainingConfig
    public var data: DataConfig

    public init(architecture: ArchitectureSpec, training: TrainingConfig, data: DataConfig) {
        self.architecture = architecture; self.training = training; self.data = data
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case architecture, training, data }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a candidate")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(ArchitectureSpec.self, forKey: .architecture)
        training = try c.decode(TrainingConfig.self, forKey: .training)
        data = try c.decode(DataConfig.self, forKey: .data)
    }

    /// Read a candidate file; every problem is an `InputFileError` naming the file and key path.
    public static func load(path: String) throws -> Candidate {
        let candidate = try loadJSONConfig(Candidate.self, path: path)
        do { try candidate.training.validate() } catch let e as ConfigError { throw InputFileError(file: path, reason: e.description) }
        return candidate
    }
}
