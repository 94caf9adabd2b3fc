import Foundation

/// A schema of its own on a PostgreSQL server, for work that must not meet the studies already
/// there (a benchmark's stores): made empty, reached through a URL whose connections put it first
/// on their `search_path`, and dropped with everything in it when done.
///
///     let scratch = try PostgreSQLScratchSchema(server: "postgresql://autotune@db.lan/studies", name: "autotune_bench_4242")
///     defer { scratch.drop() }
///     let store = try PostgreSQLStorage(url: scratch.url)    // its tables live in autotune_bench_4242
public struct PostgreSQLScratchSchema: Sendable {
    /// The schema's name: lower-case letters, digits and underscores.
    public let name: String
    /// The server's URL with `options=-csearch_path=<name>` added.
    public let url: String
    private let server: String

    /// Drops any schema of that name and makes it again, empty.
    /// - Parameters:
    ///   - server: `postgresql://...` naming the server and database.
    ///   - name: a schema name of lower-case letters, digits and underscores.
    /// - Throws: `StoreError` (`.cannotConnect`, or `.database` when the user may not create schemas).
    public init(server: String, name: String) throws {
        guard !name.isEmpty, name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }) else {
            throw StoreError(file: PostgreSQLStorage.redacted(server), kind: .invalidArgument,
                             reason: "'\(name)' is not a schema name of lower-case letters, digits and underscores")
        }
        self.server = server
        self.name = name
        try Self.run("DROP SCHEMA IF EXISTS \(name) CASCADE", on: server)
        try Self.run("CREATE SCHEMA \(name)", on: server)
        url = server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(name)"
    }

    /// Drops the schema and everything in it; a failure is ignored (the server may be gone).
    public func drop() {
        try? Self.run("DROP SCHEMA IF EXISTS \(name) CASCADE", on: server)
    }

    /// Connects to `url` and runs `SELECT 1`.
    /// - Throws: `StoreError` `.cannotConnect` with libpq's reason, or `.database`.
    public static func check(_ url: String) throws {
        guard PostgreSQLStorage.isURL(url) else {
            throw StoreError(file: PostgreSQLStorage.redacted(url), kind: .invalidArgument,
                             reason: "not a PostgreSQL URL (expected postgresql://user[:password]@host[:port]/database)")
        }
        try run("SELECT 1", on: url)
    }

    private static func run(_ sql: String, on url: String) throws {
        let location = PostgreSQLStorage.redacted(url)
        let connection: PostgreSQLConnection
        do {
            connection = try PostgreSQLConnection(url: url)
        } catch let failure as PostgreSQLFailure {
            throw StoreError(file: location, kind: .cannotConnect, reason: "cannot connect: \(PostgreSQLStorage.shortened(failure.message))")
        }
        do {
            try connection.execute(sql)
        } catch let failure as PostgreSQLFailure {
            throw StoreError(file: location, kind: .database, reason: "\(sql): \(failure.message)")
        }
    }
}
