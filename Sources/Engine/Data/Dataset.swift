/// Samples and their labels held in two flat arrays, ready to be copied into training batches.
///
/// Features are row-major, `count × sampleSize`; images are channels last (NHWC). Labels are
/// `count × labelsPerSample`: one class index per sample for classification, or one next-token id
/// per position for token sequences.
///
///     let data = Dataset(features: [0, 1, 2, 3], labels: [0, 1], sampleShape: [2], classCount: 2,
///                        name: "toy")
///     data.count        // 2
///     data.sampleSize   // 2
public struct Dataset: Sendable {
    /// `count × sampleSize` values, row-major.
    public var features: [Float]
    /// `count × labelsPerSample` class indices (or next-token ids for sequences).
    public var labels: [Int32]
    /// The shape of one sample: images `[H, W, C]`, tabular `[D]`, token sequences `[T]`.
    public var sampleShape: [Int]
    /// 1 for classification; `T` for next-token sequence data.
    public var labelsPerSample: Int
    /// The number of classes, or the vocabulary size for sequences.
    public var classCount: Int
    /// A short name for reports, e.g. `"fashion-mnist"`.
    public var name: String

    /// - Parameters:
    ///   - features: `count × product(sampleShape)` values, row-major.
    ///   - labels: `count × labelsPerSample` values, each in `0..<classCount`.
    ///   - sampleShape: the shape of one sample.
    ///   - labelsPerSample: labels per sample (1 for classification).
    ///   - classCount: the number of classes or the vocabulary size.
    ///   - name: a short name for reports.
    public init(features: [Float], labels: [Int32], sampleShape: [Int], labelsPerSample: Int = 1,
                classCount: Int, name: String) {
        precondition(labelsPerSample >= 1, "labelsPerSample must be at least 1, got \(labelsPerSample)")
        precondition(sampleShape.allSatisfy { $0 >= 0 }, "negative dimension in sample shape \(sampleShape)")
        precondition(labels.count % labelsPerSample == 0,
                     "\(labels.count) labels is not a multiple of labelsPerSample \(labelsPerSample)")
        let sampleSize = sampleShape.reduce(1, *)
        precondition(features.count == labels.count / labelsPerSample * sampleSize,
                     "\(features.count) feature values for \(labels.count / labelsPerSample) samples of shape \(sampleShape)")
        self.features = features
        self.labels = labels
        self.sampleShape = sampleShape
        self.labelsPerSample = labelsPerSample
        self.classCount = classCount
        self.name = name
        checkInvariants()
    }

    /// The number of samples.
    public var count: Int { labels.count / labelsPerSample }

    /// The number of values in one sample: the product of `sampleShape`.
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    /// Checks, in debug builds, that the arrays agree with the shape and every label is a class.
    func checkInvariants() {
        #if DEBUG
        precondition(labels.count % labelsPerSample == 0, "ragged labels")
        precondition(features.count == count * sampleSize, "features do not match count × sampleSize")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount }, "label outside 0..<\(classCount)")
        #endif
    }
}
