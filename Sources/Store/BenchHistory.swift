import Foundation

/// How a benchmark run ended.
public enum BenchRunState: String, CaseIterable, Codable, Sendable {
    /// Started and not finished: still going, or killed (never a baseline).
    case running = "RUNNING"
    /// Every part ran; its results are a baseline for later runs.
    case complete = "COMPLETE"
    /// A part failed or the run was interrupted; the results it did record are kept.
    case failed = "FAILED"
}

/// One run of a benchmark suite: when, on what code and which machine.
public struct BenchRunRecord: Equatable, Sendable {
    public var id: Int64
    /// The suite and its selection, e.g. "nightly" or "nightly --quick --only engine,search".
    public var suite: String
    public var started: Date
    public var finished: Date?
    public var state: BenchRunState
    /// The git commit the binary was built from ("" when unknown).
    public var commit: String
    /// What identifies comparable machines: CPU model, cores, OpenBLAS build.
    public var hostFingerprint: String
    /// The host as JSON (CPU, cores, threads, OpenBLAS, OS).
    public var host: String
    public var toolchain: String

    public init(id: Int64 = 0, suite: String, started: Date = Date(), finished: Date? = nil, state: BenchRunState = .running,
                commit: String, hostFingerprint: String, host: String, toolchain: String) {
        self.id = id; self.suite = suite; self.started = started; self.finished = finished; self.state = state
        self.commit = commit; self.hostFingerprint = hostFingerprint; self.host = host; self.toolchain = toolchain
    }
}

/// One measured value of a run, in the shape every benchmark prints.
public struct BenchResultRecord: Equatable, Sendable {
    public var suite: String
    public var name: String
    public var value: Double
    public var unit: String
    /// "lower" or "higher".
    public var better: String

    public init(suite: String, name: String, value: Double, unit: String, better: String) {
        self.suite = suite; self.name = name; self.value = value; self.unit = unit; self.better = better
    }
}

/// Where the history of benchmark runs is kept. Each call is one transaction, so a run killed
/// part-way keeps every result recorded before it died, and stays RUNNING (never a baseline).
public protocol BenchHistoryStorage: AnyObject {
    /// Record a new run (its `id` is ignored) and return it with its id.
    func beginRun(_ run: BenchRunRecord) throws -> BenchRunRecord
    /// Add results to a RUNNING run; a name recorded twice keeps the last value.
    func recordResults(_ results: [BenchResultRecord], run: Int64) throws
    /// Mark a RUNNING run COMPLETE or FAILED.
    func finishRun(_ run: Int64, state: BenchRunState) throws
    /// Runs, newest first; only those of `hostFingerprint` and `state` when given, at most `limit`.
    func benchRuns(hostFingerprint: String?, state: BenchRunState?, limit: Int?) throws -> [BenchRunRecord]
    func benchResults(run: Int64) throws -> [BenchResultRecord]
}
