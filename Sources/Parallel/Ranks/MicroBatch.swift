import Engine

/// Consecutive samples of a data set as an input tensor in one rank's context, with their labels.
///
/// A training step of a parallel plan reads samples `[start, start + count)` of the data set
/// (wrapping round at its end); each rank and micro-batch takes its own contiguous part, so the
/// union over ranks and micro-batches is exactly the step's global batch.
///
///     let mb = MicroBatch(data, start: step * 64 + rank * 16, count: 16, context: ctx)
///     model.accumulateGradients(mb.input, labels: mb.labels)
public final class MicroBatch {
    public let input: Tensor                         // (count, sampleShape...)
    private let labelStorage: UnsafeMutablePointer<Int32>

    public init(_ data: Dataset, start: Int, count: Int, context: ExecutionContext) {
        precondition(count >= 1 && data.count >= 1, "a micro-batch needs samples: \(count) from a data set of \(data.count)")
        let indices = (0 ..< count).map { (start + $0) % data.count }
        input = Tensor(shape: [count] + data.sampleShape, context: context)
        let labelCount = count * data.labelsPerSample
        labelStorage = .allocate(capacity: labelCount)
        labelStorage.initialize(repeating: 0, count: labelCount)
        data.gather(indices[...], features: input.data, labels: labelStorage)
    }

    deinit { labelStorage.deallocate() }

    /// The labels, (count, labelsPerSample), valid as long as this micro-batch lives.
    public var labels: UnsafePointer<Int32> { UnsafePointer(labelStorage) }
}
