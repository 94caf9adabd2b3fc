import Search

/// How a metric is named on an axis: what it measures, in which unit, and the hardware profile
/// it was costed on (`latency_ms@Jetson-Orin-Nano` → "latency (ms) on Jetson-Orin-Nano").
///
///     MetricLabel("flops").text            // "FLOPs per sample"
///     MetricLabel("memory_mb@Raspberry-Pi-5").profile   // "Raspberry-Pi-5"
public struct MetricLabel: Equatable, Sendable {
    public var metric: String
    /// The base name, before any `@profile`.
    public var base: String
    public var profile: String?

    public init(_ metric: String) {
        self.metric = metric
        if let at = metric.firstIndex(of: "@") {
            base = String(metric[..<at])
            profile = String(metric[metric.index(after: at)...])
        } else {
            base = metric
            profile = nil
        }
    }

    /// The quantity and its unit, for the metrics autotune's evaluators report; other names
    /// (a command's own metrics) as written.
    static let known: [String: String] = [
        "accuracy": "accuracy (fraction of the test set)",
        "validation_accuracy": "validation accuracy (fraction)",
        "loss": "loss (cross-entropy, nats)",
        "params": "parameters",
        "flops": "FLOPs per sample (forward)",
        "training_flops": "training FLOPs",
        "peak_mib": "peak memory (MiB)",
        "epoch_seconds": "seconds per epoch",
        "train_seconds": "training time (s)",
        "samples_per_second": "training throughput (samples/s)",
        "stored_kib": "stored size (KiB)",
        "size_ratio": "size over the FP32 model",
        "nonzero_params": "nonzero parameters",
        "sparsity": "sparsity (fraction of zeros)",
        "inference_seconds": "test-set inference time (s)",
        "latency_ms": "batch-1 latency (ms)",
        "throughput": "throughput at batch 64 (samples/s)",
        "memory_mb": "inference memory (MB)",
        "energy_mj": "energy per sample (mJ)",
        "tokens_per_second": "training throughput (tokens/s)",
        "step_seconds": "step time (s)",
        "compute_seconds": "compute time per step (s)",
        "communication_seconds": "communication time per step (s)",
        "bubble_seconds": "pipeline bubble per step (s)",
        "memory_gib": "memory per device (GiB)",
        "memory_excess_gib": "memory over capacity (GiB)",
        "mfu": "model FLOPs utilisation",
        "tflops_per_device": "TFLOP/s per device",
        "joules_per_token": "energy per token (J)",
        "parameters_per_device": "parameters per device",
        "usd_per_mtoken": "cost (USD per million tokens)",
    ]

    /// "latency (ms) on Jetson-Orin-Nano"; the metric's own name where it is not a known one.
    public var text: String {
        let quantity = Self.known[base] ?? base
        return profile.map { "\(quantity) on \($0)" } ?? quantity
    }

    /// The hardware profiles a study's plots speak of: those named in its metrics (`…@NAME`) and
    /// the meta evaluator's cluster device, in order of first mention.
    public static func profiles(of spec: StudySpec) -> [String] {
        var names = spec.objectives.map(\.metric) + spec.constraints.map(\.metric)
        names = names.compactMap { MetricLabel($0).profile }
        if case .meta(let m) = spec.evaluator { names.insert(m.hardware, at: 0) }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
