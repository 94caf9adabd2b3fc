import Hardware

/// A metric an evaluator reports: its name and what a reader sees on an axis (the quantity and
/// its unit).
public struct MetricInfo: Hashable, Sendable {
    public let name: String
    public let label: String
    public init(_ name: String, _ label: String) { self.name = name; self.label = label }
}

/// The metrics each evaluator reports: what the space reader checks objectives and constraints
/// against, and what plots label their axes with. A command reports whatever its program prints,
/// so it has no catalogue and its metrics are labelled as written.
public enum MetricCatalogue {
    /// `EngineEvaluator`'s metrics.
    public static let engine: [MetricInfo] = [
        .init("accuracy", "accuracy (fraction of the test set)"),
        .init("validation_accuracy", "validation accuracy (fraction)"),
        .init("loss", "loss (cross-entropy, nats)"),
        .init("params", "parameters"),
        .init("flops", "FLOPs per sample (forward)"),
        .init("training_flops", "training FLOPs"),
        .init("peak_mib", "peak memory (MiB)"),
        .init("epoch_seconds", "seconds per epoch"),
        .init("train_seconds", "training time (s)"),
        .init("samples_per_second", "training throughput (samples/s)"),
        .init("stored_kib", "stored size (KiB)"),
        .init("size_ratio", "size over the FP32 model"),
        .init("nonzero_params", "nonzero parameters"),
        .init("sparsity", "sparsity (fraction of zeros)"),
        .init("skipped_steps", "steps skipped by loss scaling"),
        .init("inference_seconds", "test-set inference time (s)"),
    ]

    /// The engine's per-profile metrics, named `metric@profile` (`InferenceCost.metrics(profile:)`).
    public static let hardware: [MetricInfo] = [
        .init("latency_ms", "batch-1 latency (ms)"),
        .init("throughput", "throughput at batch \(EngineEvaluator.throughputBatch) (samples/s)"),
        .init("memory_mb", "inference memory (MB)"),
        .init("energy_mj", "energy per sample (mJ)"),
    ]

    /// `MetaEvaluator`'s metrics.
    public static let meta: [MetricInfo] = [
        .init("tokens_per_second", "training throughput (tokens/s)"),
        .init("samples_per_second", "training throughput (samples/s)"),
        .init("step_seconds", "step time (s)"),
        .init("compute_seconds", "compute time per step (s)"),
        .init("communication_seconds", "communication time per step (s)"),
        .init("bubble_seconds", "pipeline bubble per step (s)"),
        .init("memory_gib", "memory per device (GiB)"),
        .init("memory_excess_gib", "memory over capacity (GiB)"),
        .init("mfu", "model FLOPs utilisation"),
        .init("tflops_per_device", "TFLOP/s per device"),
        .init("joules_per_token", "energy per token (J)"),
        .init("parameters_per_device", "parameters per device"),
        .init(MetaEvaluator.costMetric, "cost (USD per million tokens)"),
    ]

    /// The metrics an evaluator of this kind reports, hardware ones without their profile; nil
    /// when any name may come (a command's own metrics).
    public static func metrics(of evaluator: EvaluatorSpec) -> [MetricInfo]? {
        switch evaluator {
        case .engine: return engine + hardware
        case .meta: return meta
        case .benchmark(_, _, let objectives): return (1...(objectives ?? 2)).map { .init("f\($0)", "f\($0)") }
        case .command: return nil
        }
    }

    /// What `metric` (`latency_ms@jetson` counts as `latency_ms`) measures, in which unit, when
    /// `evaluator` is what reports it; nil for a name the evaluator does not define.
    public static func label(of metric: String, evaluator: EvaluatorSpec) -> String? {
        let base = SpaceFile.hardwareMetric(metric)?.base ?? metric
        return metrics(of: evaluator)?.first { $0.name == base }?.label
    }
}
