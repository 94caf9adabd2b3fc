import Foundation

/// Which data a candidate trains on and how it is split.
///
///     {"dataset": "fashion-mnist", "train_subset": 10000, "validation_fraction": 0.1}
///     {"dataset": "csv", "path": "iris.csv", "label_column": "species"}
///     {"dataset": "spirals", "samples": 1200, "classes": 3}
public struct DataConfig: Codable, Equatable, Sendable {
    public enum Source: String, Codable, Sendable, CaseIterable, NamedChoice {
        case fashionMNIST = "fashion-mnist", csv, blobs, spirals, markov
    }

    public var dataset: Source
    /// Directory of the IDX files (Fashion-MNIST); default where Debian's package installs them.
    public var directory: String?
    /// CSV file to train on, and an optional separate test file.
    public var path: String?
    public var testPath: String?
    public var labelColumn: String?
    /// Use only the first N (shuffled) training / test samples.
    public var trainSubset: Int?
    public var testSubset: Int?
    /// Fraction of the training data held out for validation.
    public var validationFraction: Double
    /// Standardise features with the training set's mean and deviation.
    public var normalize: Bool
    /// Synthetic generators: total samples (a fifth becomes the test set), classes, dimensions.
    public var samples: Int?
    public var classes: Int?
    public var dimensions: Int?
    /// Markov token data: sequence length and vocabulary.
    public var sequenceLength: Int?
    public var vocabulary: Int?

    public init(dataset: Source, directory: String? = nil, trainSubset: Int? = nil, testSubset: Int? = nil,
                validationFraction: Double = 0.1, normalize: Bool = true, samples: Int? = nil, classes: Int? = nil) {
        self.dataset = dataset; self.directory = directory; self.trainSubset = trainSubset; self.testSubset = testSubset
        self.validationFraction = validationFraction; self.normalize = normalize; self.samples = samples; self.classes = classes
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataset, path, normalize, samples, classes, dimensions, vocabulary
        case directory = "dir"
        case testPath = "test_path"
        case labelColumn = "label_column"
        case trainSubset = "train_subset"
        case testSubset = "test_subset"
        case validationFraction = "validation_fraction"
        case sequenceLength = "sequence_length"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "data")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try c.decode(Source.self, forKey: .dataset)
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        testPath = try c.decodeIfPresent(String.self, forKey: .testPath)
        labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn)
        trainSubset = try c.decodeIfPresent(Int.self, forKey: .trainSubset)
        testSubset = try c.decodeIfPresent(Int.self, forKey: .testSubset)
        validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? 0.1
        normalize = try c.decodeIfPresent(Bool.self, forKey: .normalize) ?? true
        samples = try c.decodeIfPresent(Int.self, forKey: .samples)
        classes = try c.decodeIfPresent(Int.self, forKey: .classes)
        dimensions = try c.decodeIfPresent(Int.self, forKey: .dimensions)
        sequenceLength = try c.decodeIfPresent(Int.self, forKey: .sequenceLength)
        vocabulary = try c.decodeIfPresent(Int.self, forKey: .vocabulary)
    }

    /// The three splits a run uses.
    public struct Splits: Sendable {
        public var train: Dataset
        public var validation: Dataset?
        public var test: Dataset
    }

    /// Load (or generate), subset, split and normalise. `seed` drives every random choice.
    /// The share of a single-file or synthetic data set held out for testing.
    public static let testFraction = 0.2

    /// Training samples after the test and validation splits, where the data set's size is known
    /// without reading it (Fashion-MNIST's training images, the synthetic generators' samples);
    /// nil for CSV files.
    public var trainingSamples: Int? {
        func heldOut(_ n: Int, _ fraction: Double) -> Int { min(n, Int((Double(n) * fraction).rounded())) }
        var n: Int
        switch dataset {
        case .fashionMNIST: n = FashionMNIST.trainingImages
        case .csv: return nil
        case .blobs, .spirals, .markov:
            let total = samples ?? 1000
            n = total - heldOut(total, Self.testFraction)
        }
        if let subset = trainSubset { n = min(n, subset) }
        return n - heldOut(n, validationFraction)
    }

    public func load(seed: UInt64, at prefix: String = "data") throws -> Splits {
        func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: prefix + "." + key, reason: reason) }
        if !(validationFraction >= 0 && validationFraction < 1) {
            throw fail("validation_fraction", "must be in [0, 1), got \(validationFraction)")
        }
        if let n = trainSubset, n < 1 { throw fail("train_subset", "must be ≥ 1, got \(n)") }
        if let n = testSubset, n < 1 { throw fail("test_subset", "must be ≥ 1, got \(n)") }

        var train: Dataset, test: Dataset
        switch dataset {
        case .fashionMNIST:
            let dir = directory ?? FashionMNIST.defaultDirectory
            train = try FashionMNIST.load(.train, directory: dir)
            test = try FashionMNIST.load(.test, directory: dir)
        case .csv:
            guard let path else { throw fail("path", "the csv dataset needs a path") }
            guard let label = labelColumn else { throw fail("label_column", "the csv dataset needs a label_column") }
            let all = try CSVData.load(path: path, labelColumn: label)
            if let testPath {
                train = all
                test = try CSVData.load(path: testPath, labelColumn: label)
            } else {
                (train, test) = all.split(validationFraction: Self.testFraction, seed: seed ^ 0x7E57)
            }
        case .blobs, .spirals, .markov:
            let n = samples ?? 1000
            if n < 10 { throw fail("samples", "must be ≥ 10, got \(n)") }
            let k = classes ?? (dataset == .spirals ? 2 : 3)
            if k < 2 { throw fail("classes", "must be ≥ 2, got \(k)") }
            let all: Dataset
            switch dataset {
            case .blobs: all = Synthetic.blobs(count: n, classes: k, dimensions: dimensions ?? 2, seed: seed)
            case .spirals: all = Synthetic.spirals(count: n, classes: k, seed: seed)
            default:
                let v = vocabulary ?? 16, t = sequenceLength ?? 16
                if v < 2 { throw fail("vocabulary", "must be ≥ 2, got \(v)") }
                if t < 1 { throw fail("sequence_length", "must be ≥ 1, got \(t)") }
                all = Synthetic.markovSequences(count: n, length: t, vocabulary: v, seed: seed)
            }
            (train, test) = all.split(validationFraction: Self.testFraction, seed: seed ^ 0x7E57)
        }
        if let n = trainSubset { train = train.shuffled(seed: seed ^ 0x5B5E7).subset(count: n) }
        if let n = testSubset { test = test.subset(count: n) }
        var validation: Dataset?
        if validationFraction > 0 {
            let parts = train.split(validationFraction: validationFraction, seed: seed ^ 0x7A1)
            train = parts.train
            validation = parts.validation
        }
        if normalize && dataset != .markov {
            let norm = Normalization.fit(train)
            train = norm.apply(train)
            test = norm.apply(test)
            validation = validation.map { norm.apply($0) }
        }
        return Splits(train: train, validation: validation, test: test)
    }
}
