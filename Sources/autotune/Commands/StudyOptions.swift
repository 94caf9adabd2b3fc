import Engine
import Foundation
import Search
import Store

extension Option {
    /// `--db PATH`: the SQLite file studies live in.
    static let database = Option.value(
        "db", valueName: "PATH", help: "SQLite file holding the studies.", default: StudyStore.defaultPath)

    /// `--study NAME`.
    static let studyName = Option.value(
        "study", valueName: "NAME", help: "Study name (1 to 128 ASCII letters, digits, '-', '_', '.').",
        defaultDescription: "the space file's \"name\", else its base name")
}

/// Opening the store and the studies in it, for every study command.
enum StudyStore {
    static let defaultPath = "results/autotune.sqlite"

    /// A store that cannot be opened (or is newer than this autotune) exits with 2, as bad input.
    /// The default store's folder (`results/`) is made when missing; any other `--db` must be in
    /// a folder that exists.
    static func open(_ path: String) throws -> SQLiteStorage {
        try SQLiteStorage(path: path, createDirectory: path == defaultPath)
    }

    /// Where a study's plots, report and exports (and the nightly page) go by default: a folder
    /// named after it beside its store — `results/<study>` for a store named `autotune.sqlite`,
    /// `results/<store>/<study>` for another store (`results/b.sqlite` → `results/b/<study>`), so
    /// same-named studies of two stores in one folder never overwrite each other's files.
    static func folder(_ name: String, database: String) -> String {
        let directory = (database as NSString).deletingLastPathComponent
        let file = (database as NSString).lastPathComponent
        let stem = (file as NSString).deletingPathExtension
        let base = file == (defaultPath as NSString).lastPathComponent ? directory : (directory as NSString).appendingPathComponent(stem)
        return (base as NSString).appendingPathComponent(name)
    }

    /// A study name given with `--study`, by the rule every study name follows.
    static func validateName(_ name: String) throws {
        do { try StudySpec.checkName(name) } catch let e as ConfigError {
            throw CLIError.invalidValue(name: "--study", value: name, reason: e.reason)
        }
    }
}
