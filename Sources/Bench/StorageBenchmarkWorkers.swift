import Foundation
import Search
import Store

/// Where a storage benchmark's study lives, as its workers are told.
public enum StorageBenchmarkStore: CustomStringConvertible, Sendable {
    case sqlite(path: String)
    /// The URL as given, password included (`description` leaves it out).
    case postgres(url: String)

    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return PostgreSQLStorage.redacted(url)
        }
    }
}

/// One worker's run, from the moment it was told to start: trials evaluated, its start and end on
/// the system's monotonic clock (nanoseconds, comparable between the processes of one machine;
/// Python's `time.monotonic_ns()` reads the same clock), and — when asked for windows — the seconds
/// its first and its last `window` trials took.
public struct WorkerTiming: Codable, Equatable, Sendable {
    public var evaluated: Int
    public var begin: UInt64
    public var end: UInt64
    public var firstWindow: Double?
    public var lastWindow: Double?

    public init(evaluated: Int, begin: UInt64, end: UInt64, firstWindow: Double? = nil, lastWindow: Double? = nil) {
        self.evaluated = evaluated; self.begin = begin; self.end = end
        self.firstWindow = firstWindow; self.lastWindow = lastWindow
    }

    enum CodingKeys: String, CodingKey {
        case evaluated, begin, end
        case firstWindow = "first_window", lastWindow = "last_window"
    }

    /// The first and the last `window` trials' seconds from the start times of every evaluation
    /// (between two consecutive starts lies one whole cycle: finish, read, claim, ask); nil with
    /// fewer than 2 × `window` evaluations.
    ///
    ///     windows([0, 1_000_000_000, 3_000_000_000, 6_000_000_000], window: 2)   // (3.0, 5.0)
    public static func windows(_ starts: [UInt64], window: Int) -> (first: Double, last: Double)? {
        guard window > 0, starts.count >= 2 * window else { return nil }
        let n = starts.count
        return (Double(starts[window] - starts[0]) / 1e9, Double(starts[n - 1] - starts[n - 1 - window]) / 1e9)
    }
}

/// The system's monotonic clock in nanoseconds (CLOCK_MONOTONIC: one clock for every process).
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The worker processes of a storage benchmark: each runs `autotune bench storage --worker STUDY`,
/// opens the study, prints `ready`, waits for `go` on its standard input, runs the study's
/// `StudyRunner` until the budget is spent and prints its `WorkerTiming` as one JSON line.
public enum StorageBenchmarkWorkers {
    /// Starts `count` workers on `study`, starts them together once all are ready, and returns
    /// their timings.
    /// - Throws: `EvaluationError` naming the worker that failed, with the end of what it printed.
    static func run(executable: String, store: StorageBenchmarkStore, study: String, count: Int, window: Int?) throws -> [WorkerTiming] {
        var workers: [Spawned] = []
        defer { for worker in workers where worker.process.isRunning { worker.process.terminate(); worker.process.waitUntilExit() } }
        for index in 0..<count {
            workers.append(try Spawned(executable: executable, store: store, study: study, window: window, index: index))
        }
        for worker in workers { try worker.waitUntilReady() }
        for worker in workers { worker.go() }
        return try workers.map { try $0.timing() }
    }

    /// One worker: opens `study` in `storage`, says `ready` on `output`, waits for `go` on `input`,
    /// runs the study's trials until its budget is spent and writes its timing as a JSON line.
    public static func serve(study name: String, in storage: StudyStorage, location: String, window: Int?,
                             input: FileHandle = .standardInput, output: FileHandle = .standardOutput) throws {
        let study = try Study.open(name, in: storage, location: location)
        let clock = TimedEvaluator(try study.makeEvaluator())
        let runner = try StudyRunner(study: study, strategy: try study.makeStrategy(), evaluator: clock,
                                     options: .init(worker: "bench-\(getpid())"))
        output.write(Data("ready\n".utf8))
        var reader = LineReader(input)
        guard let line = reader.next(), line == "go" else {
            throw EvaluationError("storage benchmark worker: expected 'go' on standard input")
        }
        let begin = monotonicNanoseconds()
        let evaluated = try runner.run()
        let end = monotonicNanoseconds()
        let windows = window.flatMap { WorkerTiming.windows(clock.times, window: $0) }
        let timing = WorkerTiming(evaluated: evaluated, begin: begin, end: end, firstWindow: windows?.first, lastWindow: windows?.last)
        output.write(try JSONEncoder().encode(timing) + Data("\n".utf8))
    }

    /// A started worker process.
    private final class Spawned {
        let process = Process()
        private let input = Pipe(), output = Pipe()
        private let errors: URL
        private var reader: LineReader
        private let name: String

        init(executable: String, store: StorageBenchmarkStore, study: String, window: Int?, index: Int) throws {
            name = "worker \(index + 1) of study '\(study)' (\(store))"
            errors = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-bench-storage-\(getpid())-\(study)-\(index).log")
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            var arguments = ["bench", "storage", "--worker", study]
            // A URL goes through the environment, so its password never shows in a process listing.
            var environment = ProcessInfo.processInfo.environment
            environment["AUTOTUNE_STORAGE"] = nil
            switch store {
            case .sqlite(let path): arguments += ["--db", path]
            case .postgres(let url): environment["AUTOTUNE_STORAGE"] = url
            }
            if let window { arguments += ["--window", String(window)] }
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = environment
            process.standardInput = input
            process.standardOutput = output
            process.standardError = try FileHandle(forWritingTo: errors)
            reader = LineReader(output.fileHandleForReading)
            do { try process.run() } catch {
                throw EvaluationError("storage benchmark: cannot start \(executable): \(error)")
            }
        }

        deinit { try? FileManager.default.removeItem(at: errors) }

        func waitUntilReady() throws {
            guard reader.next() == "ready" else { throw failure("stopped before it was ready") }
        }

        func go() {
            input.fileHandleForWriting.write(Data("go\n".utf8))
            try? input.fileHandleForWriting.close()
        }

        func timing() throws -> WorkerTiming {
            let line = reader.next()
            process.waitUntilExit()
            guard process.terminationStatus == 0, let line else { throw failure("exited with status \(process.terminationStatus)") }
            do { return try JSONDecoder().decode(WorkerTiming.self, from: Data(line.utf8)) } catch {
                throw failure("printed '\(line.prefix(200))' instead of its timing")
            }
        }

        private func failure(_ what: String) -> EvaluationError {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
            return EvaluationError("storage benchmark: \(name) \(what)" + (tail.isEmpty ? "" : ": \(tail)"))
        }
    }
}

/// Lines from a file handle, read as they come.
struct LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    private var ended = false

    init(_ handle: FileHandle) { self.handle = handle }

    /// The next line without its newline; nil at the end of the input.
    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { ended = true } else { buffer.append(chunk) }
        }
    }
}

/// The PostgreSQL server a storage benchmark uses: the one `--storage` names, else
/// `AUTOTUNE_STORAGE` or `AUTOTUNE_TEST_POSTGRES`, else a throwaway cluster started for the run —
/// or none, with the reason.
public final class StorageBenchmarkServer: CustomStringConvertible {
    /// The server's URL, password included; nil when there is none.
    public let url: String?
    /// Why there is no server.
    public let reason: String?
    /// Where the URL came from: "--storage", a variable's name, or "a throwaway cluster".
    public let source: String
    private let cluster: ThrowawayPostgreSQL?

    /// The variables naming a server, in the order they are read.
    public static let environmentVariables = ["AUTOTUNE_STORAGE", "AUTOTUNE_TEST_POSTGRES"]

    init(url: String?, reason: String?, source: String, cluster: ThrowawayPostgreSQL? = nil) {
        self.url = url; self.reason = reason; self.source = source; self.cluster = cluster
    }

    /// No server, because `reason`.
    public static func none(_ reason: String) -> StorageBenchmarkServer {
        StorageBenchmarkServer(url: nil, reason: reason, source: "none")
    }

    /// The server to use. A server named by `explicit` must answer (else `StoreError`
    /// `.cannotConnect`); one named in the environment that does not answer means none, with the
    /// reason; without a name, a throwaway cluster is started when `startCluster` allows it.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               startCluster: Bool = true) throws -> StorageBenchmarkServer {
        if let explicit {
            try PostgreSQLScratchSchema.check(explicit)
            return StorageBenchmarkServer(url: explicit, reason: nil, source: "--storage")
        }
        for variable in environmentVariables {
            guard let url = environment[variable], !url.isEmpty else { continue }
            guard PostgreSQLStorage.isURL(url) else {
                return .none("\(variable)=\(PostgreSQLStorage.redacted(url)) is not a postgresql:// URL")
            }
            do {
                try PostgreSQLScratchSchema.check(url)
            } catch let error as StoreError {
                return .none("\(variable) names a server that does not answer: \(error)")
            }
            return StorageBenchmarkServer(url: url, reason: nil, source: variable)
        }
        guard startCluster else { return .none("no server named (--storage, \(environmentVariables.joined(separator: ", ")))") }
        do {
            let cluster = try ThrowawayPostgreSQL()
            return StorageBenchmarkServer(url: cluster.url, reason: nil, source: "a throwaway cluster", cluster: cluster)
        } catch {
            return .none("none named (--storage, \(environmentVariables.joined(separator: ", "))) and no throwaway cluster could be started: \(error)")
        }
    }

    /// Stops the throwaway cluster, if this run started one.
    public func stop() { cluster?.stop() }

    public var description: String {
        guard let url else { return "none (\(reason ?? "none named"))" }
        return "\(PostgreSQLStorage.redacted(url)) (\(source))"
    }
}
