import CPostgres
import Foundation
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
    nonisolated(unsafe) private static var cluster: ThrowawayCluster?
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

        func halt() -> Bool { PostgreSQLTestServer.shell(as: user, [pgCtl, "-D", data, "-m", "fast", "-w", "stop"]) == 0 }

        func start() -> Bool {
            let log = (data as NSString).deletingLastPathComponent + "/server.log"
            return PostgreSQLTestServer.shell(as: user, [pgCtl, "-D", data, "-l", log, "-w", "-t", "60", "start"]) == 0
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
            let started = try ThrowawayCluster()
            cluster = started
            atexit { PostgreSQLTestServer.cluster?.stop() }
            return .success(started.url)
        } catch let reason as SkipReason {
            return .failure(reason)
        } catch {
            return .failure(SkipReason(text: "\(error)"))
        }
    }

    /// Runs a command (as `user` through runuser when given), its output discarded.
    /// Spawned and reaped directly: pg_ctl leaves the server running behind it, which
    /// Foundation's `Process` does not always notice the end of.
    fileprivate static func shell(as user: String? = nil, _ arguments: [String]) -> Int32 {
        // From `/`: the server's tools look up their working directory, which the user must be able to enter.
        let argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + (user.map { ["runuser", "-u", $0, "--"] } ?? []) + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let copies = argv.map { strdup($0) } + [nil]
        defer { copies.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, copies, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    /// initdb + pg_ctl in a temporary directory.
    private final class ThrowawayCluster {
        let directory: String
        let url: String
        private let pgCtl: String
        private let user: String?

        init() throws {
            guard let bin = Self.binaryDirectory() else {
                throw SkipReason(text: "no initdb found (looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin)")
            }
            pgCtl = bin + "/pg_ctl"
            user = getuid() == 0 ? try Self.unprivilegedUser() : nil
            let template = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-pg-XXXXXX").path
            var bytes = Array(template.utf8CString)
            guard let made = mkdtemp(&bytes) else { throw SkipReason(text: "cannot make a temporary directory") }
            directory = String(cString: made)
            if let user {
                guard PostgreSQLTestServer.shell(["chown", user, directory]) == 0 else { throw SkipReason(text: "cannot chown \(directory) to \(user)") }
            }
            let port = try Self.freePort()
            let data = directory + "/data"
            guard PostgreSQLTestServer.shell(as: user, [bin + "/initdb", "-D", data, "-U", "autotune", "--auth=trust", "-E", "UTF8", "--no-sync"]) == 0 else {
                throw SkipReason(text: "initdb failed (see \(directory))")
            }
            options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                + "-c full_page_writes=off -c max_connections=60"
            url = "postgresql://autotune@127.0.0.1:\(port)/postgres"
            guard start() else { throw SkipReason(text: "pg_ctl could not start the server (see \(directory)/server.log)") }
        }

        private let options: String

        /// Starts the server and waits until it accepts connections.
        func start() -> Bool {
            PostgreSQLTestServer.shell(as: user, [pgCtl, "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
                                  "-o", options, "start"]) == 0
        }

        /// Stops the server as an administrator restarting it would: every connection is ended,
        /// and what was committed is kept.
        func halt() -> Bool {
            PostgreSQLTestServer.shell(as: user, [pgCtl, "-D", directory + "/data", "-m", "fast", "-w", "stop"]) == 0
        }

        /// Stops the server at once and removes its files.
        func stop() {
            _ = PostgreSQLTestServer.shell(as: user, [pgCtl, "-D", directory + "/data", "-m", "immediate", "-w", "stop"])
            try? FileManager.default.removeItem(atPath: directory)
        }

        private static func binaryDirectory() -> String? {
            var candidates: [String] = []
            if let output = try? capture(["pg_config", "--bindir"]) { candidates.append(output) }
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
            candidates += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
            return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
        }

        /// `postgres` (what the Debian package makes), else a system user made for the purpose.
        private static func unprivilegedUser() throws -> String {
            if getpwnam("postgres") != nil { return "postgres" }
            if getpwnam("autotune-pg") == nil, PostgreSQLTestServer.shell(["useradd", "--system", "--no-create-home", "autotune-pg"]) != 0 {
                throw SkipReason(text: "running as root, and no postgres user exists or can be made for initdb")
            }
            return "autotune-pg"
        }

        private static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SkipReason(text: "no socket for a free port") }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard bound else { throw SkipReason(text: "no free loopback port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        private static func capture(_ arguments: [String]) throws -> String {
            let process = Process(), pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
