import Foundation

/// Whether a benchmark result got worse, judged against the same metric's recent history on the
/// same kind of machine, with a rule that ignores the noise the history shows.
///
/// The baseline is the median M of the metric over the last `window` runs; the noise is their
/// median absolute deviation, scaled to a standard deviation (σ̂ = 1.4826 · MAD, exact for normal
/// noise; Rousseeuw & Croux 1993). A change in the worse direction is a regression when it exceeds
/// both `relative` · |M| and `mads` · σ̂ — so a metric that wanders by ±8% night to night needs a
/// bigger step than one that holds to ±0.1% — and an improvement likewise the other way. A value
/// that is not finite where the history has numbers is a regression (the benchmark broke).
///
///     let rule = RegressionRule()
///     rule.verdict(now: 1.30, history: [1.00, 1.03, 0.98, 1.02, 0.99], better: .lower)   // .regression
public struct RegressionRule: Equatable, Sendable {
    /// How many of the latest runs form the baseline.
    public var window: Int
    /// The smallest relative change that counts (0.05: 5% of the baseline).
    public var relative: Double
    /// How many noise standard deviations a change must exceed.
    public var mads: Double
    /// Fewer earlier values than this give no verdict (`.new`): one or two runs say nothing
    /// about a metric's noise. 1 compares with a single run on the relative threshold alone.
    public var minimumHistory: Int

    public init(window: Int = 5, relative: Double = 0.05, mads: Double = 3, minimumHistory: Int = 3) {
        self.window = window; self.relative = relative; self.mads = mads; self.minimumHistory = minimumHistory
    }

    public enum Verdict: String, Codable, Sendable {
        case regression, improvement, ok
        /// Too little history for this metric on this machine yet (see `minimumHistory`).
        case new
    }

    /// The baseline (median), the tolerance and the verdict for `now` given `history`, newest
    /// first (only the first `window` values are used; non-finite ones are skipped).
    public func judge(now: Double, history: [Double], better: BenchRecord.Better) -> (baseline: Double?, tolerance: Double?, verdict: Verdict) {
        let recent = Array(history.filter(\.isFinite).prefix(max(window, 1)))
        guard !recent.isEmpty else { return (nil, nil, .new) }
        let m = median(recent)
        guard recent.count >= max(minimumHistory, 1) else { return (m, nil, .new) }
        let sigma = 1.4826 * median(recent.map { abs($0 - m) })
        let tolerance = max(relative * abs(m), mads * sigma)
        guard now.isFinite else { return (m, tolerance, .regression) }
        let worse = better == .lower ? now - m : m - now
        if worse > tolerance { return (m, tolerance, .regression) }
        if -worse > tolerance { return (m, tolerance, .improvement) }
        return (m, tolerance, .ok)
    }

    public func verdict(now: Double, history: [Double], better: BenchRecord.Better) -> Verdict {
        judge(now: now, history: history, better: better).verdict
    }
}

/// One metric of a run against its baseline: a row of the nightly summary.
public struct MetricComparison: Codable, Equatable, Sendable {
    public var suite: String
    public var name: String
    public var unit: String
    public var better: BenchRecord.Better
    public var now: Double
    public var baseline: Double?
    /// (now − baseline) / |baseline|; nil without a baseline.
    public var change: Double?
    /// The runs the baseline came from.
    public var history: Int
    public var verdict: RegressionRule.Verdict

    /// Each record of `now` against the same suite and name in `history` (runs newest first).
    public static func compare(_ now: [BenchRecord], history: [[BenchRecord]], rule: RegressionRule) -> [MetricComparison] {
        now.map { r in
            let past = history.compactMap { run in run.first { $0.suite == r.suite && $0.name == r.name }?.value }
            let judged = rule.judge(now: r.value, history: past, better: r.better)
            let change = judged.baseline.flatMap { b in b != 0 && r.value.isFinite ? (r.value - b) / abs(b) : nil }
            return MetricComparison(suite: r.suite, name: r.name, unit: r.unit, better: r.better, now: r.value,
                                    baseline: judged.baseline, change: change, history: min(past.filter(\.isFinite).count, rule.window),
                                    verdict: judged.verdict)
        }
    }
}
