import Foundation

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70 000 greyscale 28×28 images of clothing in 10
/// classes, 60 000 for training and 10 000 for testing, in MNIST's IDX format.
///
///     let train = try FashionMNIST.load(.train)      // 60 000 samples, shape [28, 28, 1]
///     let test = try FashionMNIST.load(.test, directory: "data/fashion")
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The number of classes (T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker,
    /// bag, ankle boot).
    public static let classCount = 10
    /// Images in the training split.
    public static let trainingImages = 60_000

    /// Which half of the set to load.
    public enum Split: String, Sendable {
        case train, test

        /// The file-name prefix the original distribution uses for this split.
        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads one split from `directory`.
    ///
    /// Reads `train-images-idx3-ubyte(.gz)` and `train-labels-idx1-ubyte(.gz)` (`t10k-…` for the
    /// test split), preferring the gzip file where both exist.
    ///
    /// - Returns: pixels scaled to [0, 1], `sampleShape` `[rows, cols, 1]` (`[28, 28, 1]` for the real
    ///   set), 10 classes, name `"fashion-mnist"`.
    /// - Throws: `DataError` for a missing or malformed file, a label count that differs from the
    ///   image count, or a label outside 0..<10.
    public static func load(_ split: Split, directory: String = defaultDirectory) throws(DataError) -> Dataset {
        let imagesPath = locate("\(split.filePrefix)-images-idx3-ubyte", in: directory)
        let labelsPath = locate("\(split.filePrefix)-labels-idx1-ubyte", in: directory)
        let images = try IDX.readImages(path: imagesPath)
        let rawLabels = try IDX.readLabels(path: labelsPath)
        guard rawLabels.count == images.count else {
            throw DataError(path: labelsPath, reason: "label count \(rawLabels.count) ≠ image count \(images.count)")
        }
        if let bad = rawLabels.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError(path: labelsPath,
                            reason: "label \(rawLabels[bad]) at index \(bad) outside 0..<\(classCount)")
        }
        return Dataset(features: scaledToUnitInterval(images.pixels), labels: rawLabels.map { Int32($0) },
                       sampleShape: [images.rows, images.cols, 1], classCount: classCount,
                       name: "fashion-mnist")
    }

    /// `directory/name.gz` if it exists, else `directory/name` if that exists, else the `.gz` path
    /// (so the error names the file the package would install).
    private static func locate(_ name: String, in directory: String) -> String {
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: base + ".gz") { return base + ".gz" }
        if fileManager.fileExists(atPath: base) { return base }
        return base + ".gz"
    }

    /// Bytes 0…255 as floats 0…1.
    private static func scaledToUnitInterval(_ pixels: [UInt8]) -> [Float] {
        [Float](unsafeUninitializedCapacity: pixels.count) { out, initialized in
            pixels.withUnsafeBufferPointer { p in
                for i in 0 ..< p.count { out[i] = Float(p[i]) / 255 }
            }
            initialized = pixels.count
        }
    }
}
