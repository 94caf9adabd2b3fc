import Search

/// How a metric is named on an axis: what it measures, in which unit (as the evaluator that
/// reports it defines it, `MetricCatalogue`), and the hardware profile it was costed on
/// (`latency_ms@Jetson-Orin-Nano` → "batch-1 latency (ms) on Jetson-Orin-Nano").
///
///     MetricLabel("flops", evaluator: engine).text                  // "FLOPs per sample (forward)"
///     MetricLabel("accuracy", evaluator: command).text              // "accuracy", as the program names it
///     MetricLabel("memory_mb@Raspberry-Pi-5", evaluator: engine).profile   // "Raspberry-Pi-5"
public struct MetricLabel: Equatable, Sendable {
    public var metric: String
    /// The base name, before any `@profile`.
    public var base: String
    public var profile: String?
    /// The quantity and unit the evaluator defines; nil for a name it does not (a command's own).
    public var quantity: String?

    public init(_ metric: String, evaluator: EvaluatorSpec) {
        self.metric = metric
        if let (base, profile) = SpaceFile.hardwareMetric(metric) {
            self.base = base
            self.profile = profile
        } else {
            base = metric
            profile = nil
        }
        quantity = MetricCatalogue.label(of: metric, evaluator: evaluator)
    }

    /// "batch-1 latency (ms) on Jetson-Orin-Nano"; the metric's own name where the evaluator
    /// does not define it.
    public var text: String {
        let q = quantity ?? base
        return profile.map { "\(q) on \($0)" } ?? q
    }

    /// The hardware profiles a study's plots speak of: those named in its metrics (`…@NAME`) and
    /// the meta evaluator's cluster device, in order of first mention.
    public static func profiles(of spec: StudySpec) -> [String] {
        var names = spec.objectives.map(\.metric) + spec.constraints.map(\.metric)
        names = names.compactMap { SpaceFile.hardwareMetric($0)?.profile }
        if case .meta(let m) = spec.evaluator { names.insert(m.hardware, at: 0) }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
