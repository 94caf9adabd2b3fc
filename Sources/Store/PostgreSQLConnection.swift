import CPostgres
import Foundation

// The only file of the store that touches libpq: one connection, parameterised statements with
// every value sent and read as text — prepared once per connection, and sent several to a round
// trip in pipeline mode — and the failures sorted into the ones worth retrying.
// Reference: https://www.postgresql.org/docs/current/libpq.html

/// A value that can be sent as a `$n` parameter (in PostgreSQL's text format; nil is NULL).
protocol PostgreSQLBindable {
    var postgresText: String? { get }
}

extension Int: PostgreSQLBindable { var postgresText: String? { String(self) } }
extension Int64: PostgreSQLBindable { var postgresText: String? { String(self) } }
extension String: PostgreSQLBindable { var postgresText: String? { self } }
extension Double: PostgreSQLBindable {
    /// `float8` input accepts "NaN", "Infinity" and "-Infinity"; finite values are written in
    /// Swift's shortest form, which reads back exactly.
    var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return "\(self)"
    }
}
extension Optional: PostgreSQLBindable where Wrapped: PostgreSQLBindable {
    var postgresText: String? { flatMap(\.postgresText) }
}

/// A list sent as one array parameter (`$3::text[]`, `$4::float8[]`): every element quoted, so
/// any text (commas, braces, quotes) survives.
struct PostgreSQLArray: PostgreSQLBindable {
    let elements: [String?]
    init(_ strings: [String]) { elements = strings }
    init(_ numbers: [Double]) { elements = numbers.map(\.postgresText) }

    var postgresText: String? {
        let quoted = elements.map { element -> String in
            guard let element else { return "NULL" }
            return "\"" + element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }
}

/// One result row, copied out of libpq's result (NULL is nil).
struct PostgreSQLRow {
    let values: [String?]

    func isNull(_ column: Int) -> Bool { values[column] == nil }
    func text(_ column: Int) -> String { values[column] ?? "" }
    func optionalText(_ column: Int) -> String? { values[column] }
    func int64(_ column: Int) -> Int64 { values[column].flatMap { Int64($0) } ?? 0 }
    func int(_ column: Int) -> Int { Int(int64(column)) }
    func optionalInt(_ column: Int) -> Int? { values[column].flatMap { Int($0) } }
    func optionalInt64(_ column: Int) -> Int64? { values[column].flatMap { Int64($0) } }
    /// A `float8` column: "NaN", "Infinity" and "-Infinity" read as themselves; NULL as NaN.
    func real(_ column: Int) -> Double { optionalReal(column) ?? .nan }
    func optionalReal(_ column: Int) -> Double? { values[column].flatMap { Double($0) } }
}

/// A statement the server refused or could not run, with its SQLSTATE when it sent one.
struct PostgreSQLFailure: Error, CustomStringConvertible {
    /// The five-character error code (https://www.postgresql.org/docs/current/errcodes-appendix.html).
    let sqlState: String?
    let message: String
    /// The connection is gone (the server restarted, the backend was terminated, the network failed).
    let connectionLost: Bool

    /// A serialization failure or a deadlock: the transaction was rolled back and may simply run again.
    var isConflict: Bool { sqlState == "40001" || sqlState == "40P01" }
    var description: String { message }
}

/// One libpq connection, used by one thread at a time.
///
///     let connection = try PostgreSQLConnection(url: "postgresql://autotune@db.lan/studies")
///     let rows = try connection.execute("SELECT name FROM studies WHERE id = $1", [Int64(1)])
final class PostgreSQLConnection {
    /// The URL as given (it may hold a password), used to reconnect.
    private let url: String
    private var handle: OpaquePointer?
    /// Statements sent with the next one that waits (see `queue`).
    private var queued: [(sql: String, values: [String?])] = []
    /// The name each statement was prepared under on this connection.
    private var prepared: [String: String] = [:]
    private var preparedNames = 0

    /// The libpq connection parameters every connection gets unless its URL sets them itself, so
    /// that a server cut off by the network is noticed in about half a minute rather than after
    /// Linux's TCP retransmission timeout (about 15 minutes):
    ///
    /// - `connect_timeout` 10: seconds a connection attempt may take (libpq treats 1 as 2).
    /// - `keepalives` 1, `keepalives_idle` 15, `keepalives_interval` 5, `keepalives_count` 3: an
    ///   idle connection is probed after 15 s of silence, every 5 s, and is dead after 3 unanswered
    ///   probes — about 30 s.
    /// - `tcp_user_timeout` 30000: milliseconds sent data may stay unacknowledged before the
    ///   connection is closed (Linux `TCP_USER_TIMEOUT`), which bounds a statement sent into a dead
    ///   network; it also bounds the keepalive probing once they start.
    ///
    /// Reference: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS
    static let networkDefaults: KeyValuePairs<String, String> = [
        "connect_timeout": "10",
        "keepalives": "1",
        "keepalives_idle": "15",
        "keepalives_interval": "5",
        "keepalives_count": "3",
        "tcp_user_timeout": "30000",
    ]

    /// Connects to `url` with `networkDefaults` for the parameters the URL does not set.
    /// - Throws: `PostgreSQLFailure` with libpq's reason on one line.
    init(url: String) throws {
        self.url = url
        handle = try Self.connect(url)
    }

    deinit { PQfinish(handle) }

    private static func connect(_ url: String) throws -> OpaquePointer {
        // Later keywords override earlier ones, so the URL (expanded from dbname, last) wins over these defaults.
        let keywords = networkDefaults.map(\.key) + ["application_name", "dbname"]
        let values = networkDefaults.map(\.value) + ["autotune", url]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let connection else {
            throw PostgreSQLFailure(sqlState: nil, message: "out of memory", connectionLost: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = oneLine(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            throw PostgreSQLFailure(sqlState: nil, message: message, connectionLost: true)
        }
        // Quiet notices ("relation already exists, skipping") instead of libpq printing them on stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Floats as the shortest text that reads back exactly (PostgreSQL 12+), whatever the server's default.
        if let result = PQexec(connection, "SET extra_float_digits = 1") {
            let status = PQresultStatus(result)
            PQclear(result)
            guard status == PGRES_COMMAND_OK else {
                let message = oneLine(String(cString: PQerrorMessage(connection)))
                PQfinish(connection)
                throw PostgreSQLFailure(sqlState: nil, message: message, connectionLost: true)
            }
        }
        return connection
    }

    /// Whether the connection is known to be gone.
    var isBroken: Bool { handle == nil || PQstatus(handle) != CONNECTION_OK }

    /// Whether a transaction is open (or failed and not yet rolled back) on this connection.
    var inTransaction: Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Closes the connection and opens a new one to the same URL.
    func reconnect() throws {
        PQfinish(handle)
        handle = nil
        queued.removeAll()
        prepared.removeAll()
        handle = try Self.connect(url)
    }

    /// The connection parameters in effect (libpq's `PQconninfo`), by keyword; unset ones left out.
    var parameters: [String: String] {
        guard let handle, let options = PQconninfo(handle) else { return [:] }
        defer { PQconninfoFree(options) }
        var found: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { found[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return found
    }

    /// The server process serving this connection (what `pg_terminate_backend` takes).
    var backendPID: Int32 { handle.map(PQbackendPID) ?? 0 }

    /// Sends `sql` with the next statement that waits for its answer (`execute`, `executeAll`),
    /// in the same round trip: for statements whose only answer that matters is an error (BEGIN,
    /// inserts whose rows are not read back). An error of a queued statement is thrown by the
    /// call that sends it.
    func queue(_ sql: String, _ values: [any PostgreSQLBindable] = []) {
        queued.append((sql, values.map(\.postgresText)))
    }

    /// Forgets the statements queued and not yet sent.
    func discardQueued() { queued.removeAll() }

    /// Runs one statement with `$1, $2...` bound to `values` (after any queued ones, in one round
    /// trip).
    /// - Returns: the rows it returned and the number of rows it inserted, updated or deleted.
    @discardableResult
    func execute(_ sql: String, _ values: [any PostgreSQLBindable] = []) throws -> (rows: [PostgreSQLRow], changed: Int) {
        try executeAll([(sql, values)])[0]
    }

    /// Runs statements one after the other in one round trip (libpq's pipeline mode), after any
    /// queued ones; the server runs each as it would alone, so a statement sees what the ones
    /// before it did. The first failure is thrown (the statements after it are not run).
    /// - Returns: each statement's rows and changed-row count, in order.
    func executeAll(_ statements: [(sql: String, values: [any PostgreSQLBindable])]) throws -> [(rows: [PostgreSQLRow], changed: Int)] {
        let all = queued + statements.map { ($0.sql, $0.values.map(\.postgresText)) }
        queued.removeAll()
        let results = try pipeline(all)
        return Array(results.suffix(statements.count))
    }

    /// Sends `statements` in one pipeline — each prepared once per connection and run by name
    /// after that, so the server parses and plans it once — and reads every answer.
    private func pipeline(_ statements: [(sql: String, values: [String?])]) throws -> [(rows: [PostgreSQLRow], changed: Int)] {
        guard let handle else {
            throw PostgreSQLFailure(sqlState: nil, message: "not connected", connectionLost: true)
        }
        guard PQenterPipelineMode(handle) == 1 else { throw sendFailure(handle) }
        // Every answer is read, whatever happens, so the connection leaves pipeline mode clean.
        var expected: [Expected] = []
        defer { finishPipeline(handle) }
        for statement in statements {
            var name = prepared[statement.sql]
            if name == nil, prepared.count < Self.preparedLimit {
                preparedNames += 1
                let fresh = "autotune_\(preparedNames)"
                guard PQsendPrepare(handle, fresh, statement.sql, 0, nil) == 1 else { throw sendFailure(handle) }
                expected.append(.prepare(statement.sql, fresh))
                name = fresh
            }
            let sent = withOptionalCStrings(statement.values) { pointers in
                if let name {
                    return PQsendQueryPrepared(handle, name, Int32(statement.values.count), pointers, nil, nil, 0)
                }
                return PQsendQueryParams(handle, statement.sql, Int32(statement.values.count), nil, pointers, nil, nil, 0)
            }
            guard sent == 1 else { throw sendFailure(handle) }
            expected.append(.statement)
        }
        guard PQpipelineSync(handle) == 1 else { throw sendFailure(handle) }

        var results: [(rows: [PostgreSQLRow], changed: Int)] = []
        var failure: PostgreSQLFailure?
        for command in expected {
            // One command's answer: its results, then NULL.
            var answer: (rows: [PostgreSQLRow], changed: Int) = ([], 0)
            var ok = false
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
                    ok = true
                    if case .statement = command { answer = Self.read(result) }
                } else if status != PGRES_PIPELINE_ABORTED, failure == nil {
                    failure = Self.failure(result, handle)
                }
                if PQstatus(handle) != CONNECTION_OK { break }
            }
            if PQstatus(handle) != CONNECTION_OK {
                throw failure ?? PostgreSQLFailure(sqlState: nil, message: "the server closed the connection", connectionLost: true)
            }
            switch command {
            case .prepare(let sql, let name): if ok { prepared[sql] = name }
            case .statement: results.append(answer)
            }
        }
        if let failure { throw failure }
        return results
    }

    /// What a pipeline waits for after each command it sent.
    private enum Expected {
        case prepare(String, String)
        case statement
    }

    /// Reads up to the pipeline's end (its sync point) and leaves pipeline mode.
    private func finishPipeline(_ handle: OpaquePointer) {
        var empty = 0
        while PQpipelineStatus(handle) != PQ_PIPELINE_OFF, PQstatus(handle) == CONNECTION_OK {
            if PQexitPipelineMode(handle) == 1 { return }
            if let result = PQgetResult(handle) {
                empty = 0
                PQclear(result)
            } else {
                empty += 1
                if empty > 2 { return }   // nothing more will come: the connection is of no further use
            }
        }
    }

    /// Statements prepared on this connection, by text: a fixed set of a few dozen, with room to spare.
    private static let preparedLimit = 256

    private static func read(_ result: OpaquePointer) -> (rows: [PostgreSQLRow], changed: Int) {
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        var rows: [PostgreSQLRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            rows.append(PostgreSQLRow(values: (0..<Int32(columnCount)).map { column in
                PQgetisnull(result, row, column) != 0 ? nil : String(cString: PQgetvalue(result, row, column))
            }))
        }
        return (rows, Int(String(cString: PQcmdTuples(result))) ?? 0)
    }

    private static func failure(_ result: OpaquePointer, _ handle: OpaquePointer) -> PostgreSQLFailure {
        let code = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let lost = PQstatus(handle) != CONNECTION_OK || code?.hasPrefix("08") == true || code?.hasPrefix("57P") == true
        var message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? String(cString: PQerrorMessage(handle))
        if message.isEmpty { message = "the server closed the connection" }
        return PostgreSQLFailure(sqlState: code, message: oneLine(message), connectionLost: lost)
    }

    /// A statement libpq could not send: the connection is gone or was never usable.
    private func sendFailure(_ handle: OpaquePointer) -> PostgreSQLFailure {
        var message = Self.oneLine(String(cString: PQerrorMessage(handle)))
        if message.isEmpty { message = "the server closed the connection" }
        return PostgreSQLFailure(sqlState: nil, message: message, connectionLost: PQstatus(handle) != CONNECTION_OK)
    }

    /// A libpq message on one line: its lines joined with "; ", severity labels dropped.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .map { line in
                var line = line
                for label in ["FATAL:", "ERROR:"] where line.hasPrefix(label) {
                    line = String(line.dropFirst(label.count)).trimmingCharacters(in: .whitespaces)
                }
                return line
            }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}

/// Calls `body` with C strings for `strings`, followed by a NULL entry.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
    withOptionalCStrings(strings.map { Optional($0) } + [nil], body)
}

private func withOptionalCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body(pointers.isEmpty ? nil : $0.baseAddress) }
}
