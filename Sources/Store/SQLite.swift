import CSQLite
import Foundation

// The only file of the store that touches SQLite's C API: a connection with a cache of prepared
// statements, typed parameter binding and typed column access. Reference: https://sqlite.org/c3ref/

/// A value that can be bound to a `?` parameter of a statement.
protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

/// One SQLite value. A NaN `real` is stored by SQLite as NULL (and read back as NaN by `SQLiteRow.real`).
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

extension Int: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Int64: SQLiteBindable { var sqliteValue: SQLiteValue { .integer(self) } }
extension Double: SQLiteBindable { var sqliteValue: SQLiteValue { .real(self) } }
extension String: SQLiteBindable { var sqliteValue: SQLiteValue { .text(self) } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    var sqliteValue: SQLiteValue { map(\.sqliteValue) ?? .null }
}

/// Tells SQLite to copy bound text before the call returns (`SQLITE_TRANSIENT` in C).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement, kept for the life of its connection.
final class SQLiteStatement {
    fileprivate let handle: OpaquePointer
    fileprivate init(handle: OpaquePointer) { self.handle = handle }
    deinit { sqlite3_finalize(handle) }
}

/// The current row of a statement being stepped; valid only inside the row callback.
struct SQLiteRow {
    fileprivate let handle: OpaquePointer

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }
    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    /// A REAL column; NULL reads as NaN, which is how SQLite stores a bound NaN.
    func real(_ column: Int32) -> Double { isNull(column) ? .nan : sqlite3_column_double(handle, column) }
    func optionalReal(_ column: Int32) -> Double? { isNull(column) ? nil : sqlite3_column_double(handle, column) }
    func text(_ column: Int32) -> String { optionalText(column) ?? "" }
    /// A TEXT column's UTF-8 bytes, without copying them into a String; empty for NULL.
    func bytes(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let bytes = sqlite3_column_text(handle, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column)))
    }
    func optionalText(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
}

/// One connection to an SQLite database file, used by one thread at a time.
///
///     let db = try SQLiteConnection(path: "store.sqlite", busyTimeout: 30)
///     try db.execute("INSERT INTO t (a, b) VALUES (?1, ?2)", [1, "x"])
///     try db.query("SELECT a FROM t WHERE b = ?1", ["x"]) { row in print(row.int(0)) }
///
/// Beyond the busy timeout, a transaction (or a statement run on its own) that still fails with
/// SQLITE_BUSY or SQLITE_LOCKED is rolled back and run again whole after a jittered pause. That
/// covers the cases where SQLite does not wait at all: a read transaction that wants to write
/// while another connection writes, and in WAL mode SQLITE_BUSY_SNAPSHOT, whose snapshot is out
/// of date so that only starting again helps (https://sqlite.org/rescode.html#busy_snapshot,
/// https://sqlite.org/c3ref/busy_handler.html). It gives up once `busyTimeout` seconds have
/// passed since the first failure, or after `maxBusyRetries` tries.
final class SQLiteConnection {
    let path: String
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Seconds SQLite waits for a lock, and also how long retries go on after a busy failure.
    let busyTimeout: TimeInterval
    /// Tries of one transaction before giving up, however fast they fail.
    static let maxBusyRetries = 200
    /// Busy failures this connection retried (for tests and benchmarks).
    private(set) var busyRetries = 0

    /// Opens (creating if absent) the database at `path`; waits up to `busyTimeout` seconds for a
    /// lock another connection holds, and retries for as long again, before failing with
    /// `StoreError.Kind.busy`.
    init(path: String, busyTimeout: TimeInterval) throws {
        var opened: OpaquePointer?
        let code = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let opened else {
            let reason = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(opened)
            throw StoreError(file: path, kind: .cannotOpen, reason: "cannot open the store: \(reason)")
        }
        self.path = path
        self.busyTimeout = busyTimeout
        handle = opened
        let milliseconds = busyTimeout.isFinite ? max(0, min(busyTimeout * 1000, Double(Int32.max))) : Double(Int32.max)
        sqlite3_busy_timeout(handle, Int32(milliseconds))
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one statement and returns the number of rows it inserted, updated or deleted.
    @discardableResult
    func execute(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int {
        try query(sql, values) { _ in }
        return Int(sqlite3_changes(handle))
    }

    /// Runs one statement, calling `row` for each result row. Outside a transaction, a busy
    /// failure before the first row runs the statement again (see the type's notes).
    func query(_ sql: String, _ values: [any SQLiteBindable] = [], row: (SQLiteRow) throws -> Void) throws {
        guard isAutocommit else { return try step(sql, values, row: row) }
        var delivered = false
        try retryingWhenBusy {
            try step(sql, values) { current in
                delivered = true
                try row(current)
            }
        } canRetry: { !delivered }
    }

    private func step(_ sql: String, _ values: [any SQLiteBindable], row: (SQLiteRow) throws -> Void) throws {
        let statement = try prepared(sql)
        let handle = statement.handle
        // Reset at once when done: a statement left mid-result would keep its read snapshot open.
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        for (offset, value) in values.enumerated() {
            try check(bind(value.sqliteValue, to: handle, at: Int32(offset + 1)))
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            try row(SQLiteRow(handle: handle))
        }
    }

    /// Runs several `;`-separated statements without caching them (schema creation, pragmas).
    /// Outside a transaction, a busy failure runs the script again (each of its statements is
    /// its own transaction, and the scripts run this way can be run twice: pragmas).
    func script(_ sql: String) throws {
        guard isAutocommit else { return try runScript(sql) }
        try retryingWhenBusy { try runScript(sql) } canRetry: { true }
    }

    private func runScript(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard code == SQLITE_OK else {
            let reason = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            throw StoreError(file: path, kind: Self.isBusy(code) ? .busy : .database, reason: reason)
        }
    }

    /// Virtual-machine instructions run so far by this connection's cached statements: a measure
    /// of the work queries do that does not depend on the machine's speed.
    var virtualMachineSteps: Int {
        statements.values.reduce(0) { $0 + Int(sqlite3_stmt_status($1.handle, SQLITE_STMTSTATUS_VM_STEP, 0)) }
    }

    /// Rowid of the last row inserted by this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in one transaction, committed if it returns and rolled back if it throws.
    /// `immediate` takes the write lock at once (`BEGIN IMMEDIATE`), so a transaction that reads
    /// and then writes never finds that another connection wrote in between. Called inside a
    /// transaction already open on this connection, `body` simply joins it.
    /// A busy failure anywhere in it (BEGIN IMMEDIATE included) rolls it back and runs it again
    /// whole, so `body` must do nothing outside the database that cannot be done twice.
    func transaction<T>(immediate: Bool, _ body: () throws -> T) throws -> T {
        guard isAutocommit else { return try body() }
        return try retryingWhenBusy {
            try step(immediate ? "BEGIN IMMEDIATE" : "BEGIN", []) { _ in }
            do {
                let result = try body()
                try step("COMMIT", []) { _ in }
                return result
            } catch {
                if !isAutocommit { _ = try? step("ROLLBACK", []) { _ in } }
                throw error
            }
        } canRetry: { true }
    }

    /// Whether no transaction is open on this connection.
    private var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// Runs `work`, and again after a pause each time it fails with `.busy` while `canRetry()`
    /// says it may, until `busyTimeout` seconds have passed since the first failure or
    /// `maxBusyRetries` tries were made.
    /// - Throws: `StoreError(.busy)` naming the file, the time and the tries, when it gives up.
    private func retryingWhenBusy<T>(_ work: () throws -> T, canRetry: () -> Bool) throws -> T {
        var tries = 0
        var firstFailure: Date?
        while true {
            do {
                return try work()
            } catch let error as StoreError where error.kind == .busy && canRetry() {
                tries += 1
                let since = firstFailure ?? Date()
                firstFailure = since
                let waited = Date().timeIntervalSince(since)
                guard tries < Self.maxBusyRetries, waited < busyTimeout else {
                    throw StoreError(file: path, kind: .busy,
                                     reason: "other processes kept the store locked: gave up after \(tries) tries over "
                                        + "\(Int(waited.rounded())) s beyond the \(Int(busyTimeout.rounded())) s busy timeout (\(error.reason))")
                }
                busyRetries += 1
                Thread.sleep(forTimeInterval: Self.busyPause(tries))
            }
        }
    }

    /// The pause before try `tries + 1`: 2 ms doubling to at most 250 ms, spread over ×0.5–1.5 by
    /// the process id and the try, so processes that failed together do not retry together.
    static func busyPause(_ tries: Int, process: Int32 = getpid()) -> TimeInterval {
        let spread = 0.5 + Double((UInt32(bitPattern: process) &* 2_654_435_761 &+ UInt32(tries) &* 40_503) % 1000) / 1000
        return min(0.25, 0.002 * pow(2, Double(min(tries - 1, 16)))) * spread
    }

    /// SQLITE_BUSY or SQLITE_LOCKED, with any extended code (BUSY_SNAPSHOT, BUSY_RECOVERY, ...).
    static func isBusy(_ code: Int32) -> Bool {
        let primary = code & 0xff
        return primary == SQLITE_BUSY || primary == SQLITE_LOCKED
    }

    private func prepared(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        var compiled: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &compiled, nil)
        guard code == SQLITE_OK, let compiled else { throw failure(code) }
        let statement = SQLiteStatement(handle: compiled)
        statements[sql] = statement
        return statement
    }

    private func bind(_ value: SQLiteValue, to statement: OpaquePointer, at index: Int32) -> Int32 {
        switch value {
        case .null: return sqlite3_bind_null(statement, index)
        case .integer(let v): return sqlite3_bind_int64(statement, index, v)
        case .real(let v): return sqlite3_bind_double(statement, index, v)
        case .text(let v): return sqlite3_bind_text(statement, index, v, -1, transient)
        }
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else { throw failure(code) }
    }

    private func failure(_ code: Int32) -> StoreError {
        let message = String(cString: sqlite3_errmsg(handle))
        let primary = code & 0xff
        let kind: StoreError.Kind = primary == SQLITE_NOTADB || primary == SQLITE_CANTOPEN ? .cannotOpen
            : Self.isBusy(code) ? .busy : .database
        return StoreError(file: path, kind: kind, reason: message)
    }
}
