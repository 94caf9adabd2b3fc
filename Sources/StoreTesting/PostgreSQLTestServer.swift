import CPostgres
import Foundation
import Store
import XCTest

/// A PostgreSQL server for tests: the one `AUTOTUNE_TEST_POSTGRES` names, else a throwaway
/// cluster started on a free loopback port (initdb and pg_ctl in a temporary directory, run as
/// the `postgres` user when the tests run as root, since initdb refuses root) and stopped when
/// the test process exits. When neither is possible, tests skip with the reason.
///
/// The tests restart the throwaway cluster, and a named server too when
/// `AUTOTUNE_TEST_POSTGRES_DATA` and `AUTOTUNE_TEST_POSTGRES_CTL` name its data directory and
/// `pg_ctl` (its settings — port, socket directory — in its `postgresql.conf`, so a plain
/// `pg_ctl start` brings it back as it was; run as the data directory's owner when the tests run
/// as root). Tests in one process run one at a time, so no other test is using it meanwhile.
///
///     let url = try PostgreSQLTestServer.freshSchema("budget")  // throws XCTSkip without a server
///     let store = try PostgreSQLStorage(url: url)
public enum PostgreSQLTestServer {
    /// The variable naming a server to use instead of a throwaway cluster.
    public static let environmentVariable = "AUTOTUNE_TEST_POSTGRES"
    /// The variables naming that server's data directory and its `pg_ctl`, so tests may restart it.
    public static let dataVariable = "AUTOTUNE_TEST_POSTGRES_DATA"
    public static let controlVariable = "AUTOTUNE_TEST_POSTGRES_CTL"

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: Result<String, SkipReason>?
    /// Set when `AUTOTUNE_TEST_POSTGRES` names a server that does not answer: tests fail, not skip.
    nonisolated(unsafe) private static var unusable: String?
    nonisolated(unsafe) private static var cluster: ThrowawayPostgreSQL?
    nonisolated(unsafe) private static var schemas = 0
    /// The schemas this process made on a server it did not start, dropped when it exits.
    nonisolated(unsafe) private static var made: [String] = []

    private struct SkipReason: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }

    /// The server's URL, starting a throwaway cluster on first use.
    /// - Throws: `XCTSkip` saying why no server can be had.
    public static func url() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if started == nil { started = start() }
        switch started! {
        case .success(let url): return url
        case .failure(let reason) where unusable != nil:
            throw reason
        case .failure(let reason):
            throw XCTSkip("NO POSTGRESQL SERVER, PostgreSQL tests skipped: \(reason.text). "
                          + "Set \(environmentVariable)=postgresql://user@host:port/db or install the postgresql package.")
        }
    }

    /// A URL whose connections work in a new, empty schema of the test server (named after
    /// `label`, this process and a counter), so every test gets a fresh store.
    public static func freshSchema(_ label: String) throws -> String {
        let base = try url()
        let schema: String = {
            lock.lock(); defer { lock.unlock() }
            schemas += 1
            let clean = label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(30)
            let schema = "t\(getpid())_\(schemas)_\(clean)"
            if cluster == nil {
                if made.isEmpty { atexit { PostgreSQLTestServer.dropSchemas() } }
                made.append(schema)
            }
            return schema
        }()
        try run("DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema)", on: base)
        let separator = base.contains("?") ? "&" : "?"
        return base + separator + "options=-csearch_path%3D\(schema)"
    }

    /// Stops the server (every connection drops), runs `whileDown`, then starts it again: what a
    /// server restart does to workers.
    /// - Throws: `XCTSkip` when the server is one `AUTOTUNE_TEST_POSTGRES` names without its data
    ///   directory and `pg_ctl`.
    public static func restart(whileDown: () throws -> Void) throws {
        _ = try url()
        let control: (halt: () -> Bool, start: () -> Bool)
        if let cluster {
            control = (cluster.halt, cluster.start)
        } else if let named = NamedServer() {
            control = (named.halt, named.start)
        } else {
            throw XCTSkip("the server \(environmentVariable) names is restarted by tests only when \(dataVariable) and "
                          + "\(controlVariable) name its data directory and pg_ctl")
        }
        guard control.halt() else { throw SkipReason(text: "pg_ctl could not stop the server") }
        defer {
            if !control.start() { FileHandle.standardError.write(Data("PostgreSQLTestServer: pg_ctl could not start the server again\n".utf8)) }
        }
        try whileDown()
    }

    /// The server `AUTOTUNE_TEST_POSTGRES` names, stopped and started with the `pg_ctl` and data
    /// directory the environment gives (its log beside the data directory, in `server.log`).
    private struct NamedServer {
        let pgCtl: String, data: String, user: String?

        init?() {
            let environment = ProcessInfo.processInfo.environment
            guard let pgCtl = environment[PostgreSQLTestServer.controlVariable], !pgCtl.isEmpty,
                  let data = environment[PostgreSQLTestServer.dataVariable], !data.isEmpty else { return nil }
            self.pgCtl = pgCtl
            self.data = data
            // As root, run pg_ctl as the cluster's owner (the server refuses to run as root).
            var info = stat()
            if getuid() == 0, stat(data, &info) == 0, info.st_uid != 0, let owner = getpwuid(info.st_uid) {
                user = String(cString: owner.pointee.pw_name)
            } else {
                user = nil
            }
        }

        func halt() -> Bool { ThrowawayPostgreSQL.shell(as: user, [pgCtl, "-D", data, "-m", "fast", "-w", "stop"]) == 0 }

        func start() -> Bool {
            let log = (data as NSString).deletingLastPathComponent + "/server.log"
            return ThrowawayPostgreSQL.shell(as: user, [pgCtl, "-D", data, "-l", log, "-w", "-t", "60", "start"]) == 0
        }
    }

    private static func dropSchemas() {
        guard case .success(let url)? = started, !made.isEmpty else { return }
        _ = try? run(made.map { "DROP SCHEMA IF EXISTS \($0) CASCADE" }.joined(separator: "; "), on: url)
    }

    /// Ends every connection to the test server whose `application_name` is `application`
    /// (`pg_terminate_backend`): what a server restart or an administrator does to workers.
    /// - Returns: how many connections were ended.
    @discardableResult
    public static func terminateConnections(application: String) throws -> Int {
        let rows = try run("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = '\(application.replacingOccurrences(of: "'", with: "''"))' AND pid <> pg_backend_pid()
            """, on: try url())
        return Int(rows.first ?? "0") ?? 0
    }

    /// Runs `sql` (one or more statements) on a new connection to `url`.
    /// - Returns: the first column of the last statement's rows.
    @discardableResult
    public static func run(_ sql: String, on url: String) throws -> [String] {
        guard let connection = PQconnectdb(url), PQstatus(connection) == CONNECTION_OK else {
            throw SkipReason(text: "cannot connect to \(url)")
        }
        defer { PQfinish(connection) }
        guard let result = PQexec(connection, sql) else { throw SkipReason(text: "out of memory") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw SkipReason(text: "\(sql.prefix(60))…: \(String(cString: PQresultErrorMessage(result)))")
        }
        return (0..<PQntuples(result)).map { String(cString: PQgetvalue(result, $0, 0)) }
    }

    private static func start() -> Result<String, SkipReason> {
        if let url = ProcessInfo.processInfo.environment[environmentVariable], !url.isEmpty {
            // A named server must work: a typo there is an error, not a reason to skip.
            do {
                try run("SELECT 1", on: url)
                return .success(url)
            } catch {
                unusable = url
                return .failure(SkipReason(text: "\(environmentVariable)=\(url) is not usable: \(error)"))
            }
        }
        do {
            let started = try ThrowawayPostgreSQL()
            cluster = started
            atexit { PostgreSQLTestServer.cluster?.stop() }
            return .success(started.url)
        } catch let unavailable as ThrowawayPostgreSQL.Unavailable {
            return .failure(SkipReason(text: unavailable.reason))
        } catch {
            return .failure(SkipReason(text: "\(error)"))
        }
    }
}
