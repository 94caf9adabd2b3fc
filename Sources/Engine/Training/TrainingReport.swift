/// How a training run ended.
public enum TrainingStatus: String, Codable, Sendable {
    case completed
    /// The loss became NaN or infinite; training stopped at that step.
    case diverged
    /// Training was stopped early on request (multi-fidelity early stopping).
    case stopped
}

/// One epoch of a run: the learning curve's point.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// Training time of the epoch (evaluation excluded).
    public var seconds: Double
    /// The rate of the epoch's last step, as the Float the optimizer used (printed shortest).
    public var learningRate: Double
}

/// What training and evaluating a candidate measured.
public struct TrainingReport: Codable, Equatable, Sendable {
    public var status: TrainingStatus
    public var testAccuracy: Double
    public var testLoss: Double
    /// Wall seconds of the test-set pass (inference at the training batch size).
    public var testSeconds: Double
    public var validationAccuracy: Double?
    public var epochs: [EpochRecord]
    /// Median training seconds per epoch.
    public var secondsPerEpoch: Double
    public var samplesPerSecond: Double
    public var steps: Int
    public var parameters: Int
    /// FLOPs of one forward pass for one sample.
    public var flopsPerSample: Double
    /// FLOPs executed over the whole training run (forward, backward, optimizer).
    public var trainingFLOPs: Double
    /// Peak live bytes while training (parameters, gradients, optimizer state, activations, buffers).
    public var peakBytes: Double
    /// One training step at the configured batch size, traced in meta mode: what the cost model reads.
    public var stepTrace: TraceSummary
    public var threads: Int

    /// The names as written, so a snake_case encoder gives `training_flops` (its own conversion
    /// of `trainingFLOPs` would be `training_flo_ps`).
    enum CodingKeys: String, CodingKey {
        case status, epochs, steps, parameters, threads
        case testAccuracy = "test_accuracy", testLoss = "test_loss", testSeconds = "test_seconds"
        case validationAccuracy = "validation_accuracy", secondsPerEpoch = "seconds_per_epoch"
        case samplesPerSecond = "samples_per_second", flopsPerSample = "flops_per_sample"
        case trainingFLOPs = "training_flops", peakBytes = "peak_bytes", stepTrace = "step_trace"
    }
}
