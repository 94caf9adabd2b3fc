import Engine
import Foundation
import Search
import Store

extension Option {
    /// `--db PATH`: the SQLite file studies live in.
    static let database = Option.value(
        "db", valueName: "PATH", help: "SQLite file holding the studies.",
        defaultDescription: "\(StudyStore.defaultPath), unless --storage or \(StudyStore.environmentVariable) names a server")

    /// `--storage URL`: a PostgreSQL server studies live in, instead of an SQLite file.
    static let storage = Option.value(
        "storage", valueName: "URL",
        help: "PostgreSQL database holding the studies: postgresql://user[:password]@host[:port]/database (or postgres://).",
        defaultDescription: "$\(StudyStore.environmentVariable), else the SQLite file of --db")

    /// The two ways to name a store, offered together by every study command.
    static let store: [Option] = [.database, .storage]

    /// `--study NAME`.
    static let studyName = Option.value(
        "study", valueName: "NAME", help: "Study name (1 to 128 ASCII letters, digits, '-', '_', '.').",
        defaultDescription: "the space file's \"name\", else its base name")
}

/// Where a command's studies live: an SQLite file or a PostgreSQL database.
enum StudyStore: CustomStringConvertible {
    case sqlite(path: String)
    /// The URL as given, password included (`description` leaves it out).
    case postgres(url: String)

    static let defaultPath = "results/autotune.sqlite"
    /// Names a PostgreSQL store for every command that is given neither `--db` nor `--storage`.
    static let environmentVariable = "AUTOTUNE_STORAGE"

    /// The store `--db` or `--storage` names, else `AUTOTUNE_STORAGE`, else the default SQLite file.
    /// Naming both on the command line is a usage error.
    init(_ values: ParsedValues, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let path: String? = try values.optionalValue("db"), url: String? = try values.optionalValue("storage")
        switch (path, url) {
        case (.some, .some):
            throw CLIError.conflictingOptions("--db", "--storage", reason: "both name the store; give one")
        case (let path?, nil):
            self = .sqlite(path: path)
        case (nil, let url?):
            self = try Self.postgres(url, from: "--storage")
        case (nil, nil):
            if let url = environment[Self.environmentVariable], !url.isEmpty {
                self = try Self.postgres(url, from: Self.environmentVariable)
            } else {
                self = .sqlite(path: Self.defaultPath)
            }
        }
    }

    private static func postgres(_ url: String, from source: String) throws -> StudyStore {
        guard PostgreSQLStorage.isURL(url) else {
            throw CLIError.invalidValue(name: source, value: PostgreSQLStorage.redacted(url),
                                        reason: "expected postgresql://user[:password]@host[:port]/database (or postgres://)")
        }
        return .postgres(url: url)
    }

    /// The file, or the URL without its password: what messages and listings name.
    var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return PostgreSQLStorage.redacted(url)
        }
    }

    /// Opens (creating if new) the store. An SQLite store that cannot be opened (or is newer than
    /// this autotune) exits with 2, as bad input; the default's folder (`results/`) is made when
    /// missing, any other `--db` must be in a folder that exists. A PostgreSQL server that
    /// refuses the connection exits with 1. How long a PostgreSQL worker keeps reconnecting after
    /// its connection drops is `AUTOTUNE_STORAGE_RECONNECT_SECONDS` (default 60).
    func open(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any StudyStorage {
        switch self {
        case .sqlite(let path): return try SQLiteStorage(path: path, createDirectory: path == Self.defaultPath)
        case .postgres(let url): return try PostgreSQLStorage(url: url, reconnectPatience: Self.reconnectPatience(environment))
        }
    }

    /// The reconnect patience `AUTOTUNE_STORAGE_RECONNECT_SECONDS` sets, else the default.
    /// - Throws: `CLIError.invalidValue` (exit 2) for a value that is not a positive number of seconds.
    static func reconnectPatience(_ environment: [String: String]) throws -> TimeInterval {
        let name = PostgreSQLStorage.reconnectVariable
        guard let text = environment[name], !text.isEmpty else { return PostgreSQLStorage.defaultReconnectPatience }
        guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
            throw CLIError.invalidValue(name: name, value: text, reason: "must be a positive number of seconds")
        }
        return seconds
    }

    /// The store, which must already exist (listing commands never create an SQLite file).
    func openExisting() throws -> any StudyStorage {
        if case .sqlite(let path) = self, !FileManager.default.fileExists(atPath: path) {
            throw CLIError.badInput("\(path): no such store (run 'autotune search SPACE.json' first)")
        }
        return try open()
    }

    /// The options that name this store again, for a worker process started by this one. A URL
    /// goes through the environment, so its password never shows in a process listing.
    var workerArguments: (arguments: [String], environment: [String: String]) {
        switch self {
        case .sqlite(let path): return (["--db", path], [:])
        case .postgres(let url): return ([], [Self.environmentVariable: url])
        }
    }

    /// Where a study's plots, report and exports (and the nightly page) go by default: a folder
    /// named after it beside its store — `results/<study>` for a store named `autotune.sqlite`,
    /// `results/<store>/<study>` for another store (`results/b.sqlite` → `results/b/<study>`), so
    /// same-named studies of two stores in one folder never overwrite each other's files. A
    /// PostgreSQL store has no folder of its own: `results/<study>` under the current directory.
    func folder(_ name: String) -> String {
        switch self {
        case .postgres:
            return ((Self.defaultPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name)
        case .sqlite(let database):
            let directory = (database as NSString).deletingLastPathComponent
            let file = (database as NSString).lastPathComponent
            let stem = (file as NSString).deletingPathExtension
            let base = file == (Self.defaultPath as NSString).lastPathComponent ? directory : (directory as NSString).appendingPathComponent(stem)
            return (base as NSString).appendingPathComponent(name)
        }
    }

    /// A study name given with `--study`, by the rule every study name follows.
    static func validateName(_ name: String) throws {
        do { try StudySpec.checkName(name) } catch let e as ConfigError {
            throw CLIError.invalidValue(name: "--study", value: name, reason: e.reason)
        }
    }
}
