import Foundation

/// A PostgreSQL server of our own for as long as a test run or a benchmark lasts: `initdb` and
/// `pg_ctl` from Debian's `postgresql` package in a temporary directory, on a free loopback port,
/// trusting local connections, without fsync (nothing in it outlives the run). When the process
/// runs as root the server runs as the `postgres` user (initdb refuses root), or as a system user
/// made for the purpose.
///
///     let server = try ThrowawayPostgreSQL()     // throws Unavailable with the reason
///     defer { server.stop() }
///     let store = try PostgreSQLStorage(url: server.url)
public final class ThrowawayPostgreSQL {
    /// Why no server could be started, for people ("no initdb found ...").
    public struct Unavailable: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The directory holding the cluster's data and its log.
    public let directory: String
    /// `postgresql://autotune@127.0.0.1:PORT/postgres`.
    public let url: String
    private let pgCtl: String
    private let user: String?
    private let options: String

    /// Makes a cluster and starts its server, waiting until it accepts connections.
    /// - Throws: `Unavailable` when the server binaries are missing or the server does not start.
    public init() throws {
        guard let bin = Self.binaryDirectory() else {
            throw Unavailable(reason: "no initdb found (looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin)")
        }
        pgCtl = bin + "/pg_ctl"
        user = getuid() == 0 ? try Self.unprivilegedUser() : nil
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-pg-XXXXXX").path
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw Unavailable(reason: "cannot make a temporary directory") }
        directory = String(cString: made)
        if let user {
            guard Self.shell(["chown", user, directory]) == 0 else { throw Unavailable(reason: "cannot chown \(directory) to \(user)") }
        }
        let port = try Self.freePort()
        let data = directory + "/data"
        guard Self.shell(as: user, [bin + "/initdb", "-D", data, "-U", "autotune", "--auth=trust", "-E", "UTF8", "--no-sync"]) == 0 else {
            throw Unavailable(reason: "initdb failed (see \(directory))")
        }
        options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            + "-c full_page_writes=off -c max_connections=60"
        url = "postgresql://autotune@127.0.0.1:\(port)/postgres"
        guard start() else { throw Unavailable(reason: "pg_ctl could not start the server (see \(directory)/server.log)") }
    }

    /// Starts the server and waits until it accepts connections.
    public func start() -> Bool {
        Self.shell(as: user, [pgCtl, "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
                              "-o", options, "start"]) == 0
    }

    /// Stops the server as an administrator restarting it would: every connection is ended,
    /// and what was committed is kept.
    public func halt() -> Bool {
        Self.shell(as: user, [pgCtl, "-D", directory + "/data", "-m", "fast", "-w", "stop"]) == 0
    }

    /// Stops the server at once and removes its files.
    public func stop() {
        _ = Self.shell(as: user, [pgCtl, "-D", directory + "/data", "-m", "immediate", "-w", "stop"])
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
        if getpwnam("autotune-pg") == nil, shell(["useradd", "--system", "--no-create-home", "autotune-pg"]) != 0 {
            throw Unavailable(reason: "running as root, and no postgres user exists or can be made for initdb")
        }
        return "autotune-pg"
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unavailable(reason: "no socket for a free port") }
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
        guard bound else { throw Unavailable(reason: "no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a command (as `user` through runuser when given), its output discarded.
    /// Spawned and reaped directly: pg_ctl leaves the server running behind it, which
    /// Foundation's `Process` does not always notice the end of.
    public static func shell(as user: String? = nil, _ arguments: [String]) -> Int32 {
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
