import Foundation

/// Studies and trials in a PostgreSQL database that workers on many machines share.
///
///     let store = try PostgreSQLStorage(url: "postgresql://autotune:secret@db.lan:5432/studies")
///     let (study, _) = try store.openStudy(StudyRecord(name: "mnist", space: text, objectives: ["loss"],
///                                                      directions: ["minimize"], seed: 7, strategy: "random"))
///     while let trial = try store.claimTrial(study: study.id, worker: "w1", limit: 100, propose: propose) {
///         try store.finishTrial(study: study.id, number: trial.number, state: .complete,
///                               metrics: ["loss": 0.3], violation: 0, message: nil)
///     }
///
/// Every method is one transaction. A claim locks its study's row (`SELECT ... FOR UPDATE`), so
/// claims of one study run one at a time across all workers: trial numbers stay dense and unique
/// (the primary key would refuse a duplicate anyway) and the budget is never overrun. Times come
/// from the server's clock. A transaction that meets a serialization failure or a deadlock, or
/// whose connection drops (a server restart, `pg_terminate_backend`), is rolled back and run
/// again whole, after reconnecting with backoff. One instance holds one connection and may be
/// shared by threads (its calls are serialised); for parallel workers open one instance each.
public final class PostgreSQLStorage: StudyStorage, @unchecked Sendable {
    /// The store's URL without its password: what messages name.
    public let location: String
    let connection: PostgreSQLConnection
    private let lock = NSRecursiveLock()
    /// How long to keep reconnecting after the connection drops before giving up.
    public let reconnectPatience: TimeInterval
    /// When the connection was found gone, until a reconnect succeeds.
    private var disconnectedSince: Date?
    /// Set once reconnecting gave up: every later call fails at once with it, so a cut-off
    /// worker stops within `reconnectPatience` whichever of its threads met the drop first.
    private var gaveUp: StoreError?

    /// The environment variable that sets `reconnectPatience` for the command-line tool, in seconds.
    public static let reconnectVariable = "AUTOTUNE_STORAGE_RECONNECT_SECONDS"
    /// `reconnectPatience` when nothing sets it.
    public static let defaultReconnectPatience: TimeInterval = 60

    /// Whether `text` is a PostgreSQL URL (`postgresql://` or `postgres://`).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// `url` without its password (in the user part or as a `password=` parameter).
    ///
    ///     redacted("postgresql://ann:secret@db:5432/studies")  // "postgresql://ann@db:5432/studies"
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var text = url
        let rest = text[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
            text.removeSubrange(colon..<at)
        }
        if let query = text.firstIndex(of: "?") {
            let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false)
                .filter { !$0.lowercased().hasPrefix("password=") }
            text = String(text[..<query]) + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
        }
        return text
    }

    /// Connects to the database at `url` and creates the tables on first use.
    /// - Parameters:
    ///   - url: `postgresql://user[:password]@host[:port]/database[?parameters]` (or `postgres://`).
    ///     Connections get `connect_timeout`, TCP keepalives and `tcp_user_timeout` (see
    ///     `PostgreSQLConnection.networkDefaults`) unless the URL sets them.
    ///   - reconnectPatience: seconds to keep trying to reconnect when the connection drops later,
    ///     counted from the moment the drop is noticed.
    /// - Throws: `StoreError` naming the URL without its password: `.cannotConnect` when the
    ///   server refuses or cannot be reached, `.cannotOpen` when the database is not an autotune
    ///   store, `.schemaTooNew` when a newer autotune made it, `.invalidArgument` for a URL that
    ///   is not PostgreSQL's or a patience that is not a positive number of seconds.
    public init(url: String, reconnectPatience: TimeInterval = defaultReconnectPatience) throws {
        location = Self.redacted(url)
        self.reconnectPatience = reconnectPatience
        guard reconnectPatience > 0, reconnectPatience.isFinite else {
            throw StoreError(file: location, kind: .invalidArgument,
                             reason: "the reconnect patience must be a positive number of seconds, got \(reconnectPatience)")
        }
        guard Self.isURL(url) else {
            throw StoreError(file: location, kind: .invalidArgument,
                             reason: "not a PostgreSQL URL (expected postgresql://user[:password]@host[:port]/database)")
        }
        do {
            connection = try PostgreSQLConnection(url: url)
        } catch let failure as PostgreSQLFailure {
            throw StoreError(file: location, kind: .cannotConnect, reason: "cannot connect: \(Self.shortened(failure.message))")
        }
        do {
            try PostgreSQLSchema.open(connection, location: location)
        } catch let failure as PostgreSQLFailure {
            throw StoreError(file: location, kind: .cannotOpen, reason: "cannot open the store: \(failure.message)")
        }
    }

    /// libpq's connection failure without the part that repeats the address and the severity
    /// ("connection to server at "127.0.0.1", port 5999 failed: Connection refused" → "Connection refused",
    /// "… failed: FATAL:  database "x" does not exist" → "database "x" does not exist").
    static func shortened(_ message: String) -> String {
        var text = message
        if text.hasPrefix("connection to server"), let failed = text.range(of: "failed: ") {
            text = String(text[failed.upperBound...])
        }
        if text.hasPrefix("FATAL:") { text = String(text.dropFirst("FATAL:".count)) }
        return text.trimmingCharacters(in: .whitespaces)
    }

    func error(_ kind: StoreError.Kind, _ reason: String) -> StoreError {
        StoreError(file: location, kind: kind, reason: reason)
    }

    // MARK: Transactions, retried

    /// Runs `body` in one transaction on the connection, committed if it returns and rolled back
    /// if it throws. A conflict (SQLSTATE 40001, 40P01) or a dropped connection runs it again
    /// whole, with backoff; `body` gets how many attempts came before (a retried finish checks
    /// whether its first attempt committed before the connection dropped).
    func transaction<T>(readOnly: Bool = false, _ body: (_ attempt: Int) throws -> T) throws -> T {
        try locked {
            var attempt = 0, conflicts = 0, drops = 0
            while true {
                do {
                    if connection.isBroken { try reconnect() }
                    // Sent with the body's first statement: no round trip of its own.
                    connection.queue(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN")
                    let result = try body(attempt)
                    try connection.execute("COMMIT")
                    return result
                } catch let failure as PostgreSQLFailure where failure.connectionLost && drops < 20 {
                    attempt += 1; drops += 1
                    try reconnect()
                } catch let failure as PostgreSQLFailure where failure.isConflict && conflicts < 30 {
                    rollback()
                    attempt += 1; conflicts += 1
                    Thread.sleep(forTimeInterval: backoff(conflicts, base: 0.005, cap: 0.5))
                } catch let failure as PostgreSQLFailure {
                    rollback()
                    throw error(.database, failure.message)
                } catch {
                    rollback()
                    throw error
                }
            }
        }
    }

    private func rollback() {
        connection.discardQueued()
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
    }

    /// Reconnects after a dropped connection, waiting longer between tries, until
    /// `reconnectPatience` seconds have passed since the drop was noticed; past that, gives up
    /// for good. A try that is under way when the time runs out is let finish (libpq bounds it
    /// by `connect_timeout`), and no pause runs past the deadline.
    private func reconnect() throws {
        if let gaveUp { throw gaveUp }
        let since = disconnectedSince ?? Date()
        disconnectedSince = since
        let deadline = since.addingTimeInterval(reconnectPatience)
        var tries = 0
        while true {
            do {
                try connection.reconnect()
                disconnectedSince = nil
                return
            } catch let failure as PostgreSQLFailure {
                tries += 1
                let left = deadline.timeIntervalSinceNow
                guard left > 0 else {
                    let patience = reconnectPatience.rounded() == reconnectPatience ? "\(Int(reconnectPatience))" : "\(reconnectPatience)"
                    let failed = error(.database, "lost the connection to the server and could not reconnect within \(patience) s "
                                                  + "(\(Self.reconnectVariable) sets how long): \(Self.shortened(failure.message))")
                    gaveUp = failed
                    throw failed
                }
                Thread.sleep(forTimeInterval: min(left, backoff(tries, base: 0.05, cap: 2)))
            }
        }
    }

    /// Exponential backoff with a jitter from the process id, so workers that failed together
    /// do not retry together.
    private func backoff(_ attempt: Int, base: TimeInterval, cap: TimeInterval) -> TimeInterval {
        let spread = 0.5 + Double((UInt32(bitPattern: getpid()) &* 2_654_435_761 &+ UInt32(attempt) &* 40_503) % 1000) / 1000
        return min(cap, base * pow(2, Double(min(attempt, 16)))) * spread
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Studies

    private static let studyColumns = "id, name, space, objectives, directions, reference_point, seed, strategy, created"

    func loadStudies(where condition: String, _ values: [any PostgreSQLBindable]) throws -> [StudyRecord] {
        try connection.execute("SELECT \(Self.studyColumns) FROM studies \(condition)", values).rows.map { row in
            let name = row.text(1), what = "study '\(row.text(1))'"
            return StudyRecord(
                id: row.int64(0), name: name, space: row.text(2),
                objectives: try ColumnJSON.decode([String].self, from: row.text(3), what: "\(what) objectives", file: location),
                directions: try ColumnJSON.decode([String].self, from: row.text(4), what: "\(what) directions", file: location),
                referencePoint: try row.optionalText(5).map {
                    try ColumnJSON.decode([Double].self, from: $0, what: "\(what) reference point", file: location)
                },
                seed: UInt64(bitPattern: row.int64(6)), strategy: row.text(7),
                created: Date(timeIntervalSince1970: row.real(8)))
        }
    }

    public func openStudy(_ study: StudyRecord) throws -> (StudyRecord, created: Bool) {
        let values: [any PostgreSQLBindable] = [
            study.name, study.space, try ColumnJSON.encode(study.objectives, file: location),
            try ColumnJSON.encode(study.directions, file: location),
            try study.referencePoint.map { try ColumnJSON.encode($0, file: location) },
            Int64(bitPattern: study.seed), study.strategy, study.created.timeIntervalSince1970]
        return try transaction { _ in
            let inserted = try connection.execute("""
                INSERT INTO studies (name, space, objectives, directions, reference_point, seed, strategy, created)
                VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8::float8)
                ON CONFLICT (name) DO NOTHING RETURNING id
                """, values).rows
            guard let stored = try loadStudies(where: "WHERE name = $1", [study.name]).first else {
                throw error(.database, "study '\(study.name)' vanished right after it was inserted")
            }
            return (stored, !inserted.isEmpty)
        }
    }

    public func study(named name: String) throws -> StudyRecord? {
        try transaction(readOnly: true) { _ in try loadStudies(where: "WHERE name = $1", [name]).first }
    }

    public func studies() throws -> [StudySummary] {
        try transaction(readOnly: true) { _ in
            var summaries = try loadStudies(where: "ORDER BY id", []).map {
                StudySummary(study: $0, counts: Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0, 0) }),
                             lastActivity: nil)
            }
            let position = Dictionary(uniqueKeysWithValues: summaries.enumerated().map { ($1.study.id, $0) })
            for row in try connection.execute("""
                SELECT study_id, state, count(*), max(greatest(started, heartbeat, coalesce(finished, 0)))
                FROM trials GROUP BY study_id, state
                """).rows {
                guard let index = position[row.int64(0)], let state = TrialState(rawValue: row.text(1)) else { continue }
                summaries[index].counts[state] = row.int(2)
                let latest = Date(timeIntervalSince1970: row.real(3))
                summaries[index].lastActivity = max(summaries[index].lastActivity ?? latest, latest)
            }
            return summaries
        }
    }

    public func setReferencePoint(_ point: [Double], study: Int64) throws {
        let text = try ColumnJSON.encode(point, file: location)
        try transaction { _ in
            let changed = try connection.execute("UPDATE studies SET reference_point = $2 WHERE id = $1::bigint", [study, text]).changed
            guard changed == 1 else { throw error(.notFound, "no study with id \(study)") }
        }
    }
}
