import Engine
import Foundation
import Search
import Store

/// `autotune copy-study STUDY --to STORE`: a study with every trial, into another store (an
/// SQLite file or a PostgreSQL database) or under another name.
struct CopyStudyCommand: Command {
    static let configuration = CommandConfiguration(
        name: "copy-study",
        abstract: "Copy a study with all its trials to another store (SQLite file or PostgreSQL URL), or under another name.",
        arguments: [.study],
        options: Option.store + [
            .value("to", valueName: "PATH|URL", help: "The store to copy into: an SQLite file or postgresql://…",
                   defaultDescription: "the study's own store (then --as is needed)"),
            .value("as", valueName: "NAME", help: "The copy's name.", defaultDescription: "the study's"),
            .json,
        ])

    var target: StudyArgument
    var destination: StudyStore
    var newName: String?
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        if let to: String = try values.optionalValue("to") {
            destination = PostgreSQLStorage.isURL(to) ? .postgres(url: to) : .sqlite(path: to)
        } else {
            destination = target.store
        }
        newName = try values.optionalValue("as")
        json = values.flag("json")
    }

    func validate() throws {
        if case .sqlite(let path) = destination, path.isEmpty {
            throw CLIError.invalidValue(name: "--to", value: path, reason: "name an SQLite file or a postgresql:// URL")
        }
        if let newName {
            do { try StudySpec.checkName(newName) } catch let e as ConfigError {
                throw CLIError.invalidValue(name: "--as", value: newName, reason: e.reason)
            }
        }
    }

    func run() throws -> Int32 {
        let source = try target.open()
        let name = newName ?? source.name
        let into = try destination.open()
        guard try into.study(named: name) == nil else {
            throw CLIError.badInput("study '\(name)' already exists in \(destination)" + (newName == nil ? "; name the copy with --as" : ""))
        }
        let trials = try source.storage.trials(study: source.id, finishedAfter: nil)
        let queued = try source.storage.queuedReruns(study: source.id)
        var record = source.record
        record.name = name
        _ = try into.importStudy(record, trials: trials, queued: queued)
        let running = trials.filter { $0.state == .running }.count
        if json {
            print(JSONValue.object([("study", .string(source.name)), ("from", .string(target.store.description)),
                                    ("copy", .string(name)), ("to", .string(destination.description)),
                                    ("trials", .number(Double(trials.count))), ("queued_reruns", .number(Double(queued.count)))]).prettyText)
        } else {
            print("copied study '\(source.name)' (\(trials.count) trials) from \(target.store) to \(destination) as '\(name)'")
        }
        if running > 0 {
            FileHandle.standardError.write(Data(("autotune: warning: \(running) trials were running; in the copy they stay RUNNING "
                                                 + "until a worker of the copy finds them stale and runs them again\n").utf8))
        }
        return 0
    }
}

/// `autotune delete-study STUDY --yes`: a study and all its trials, gone from the store.
struct DeleteStudyCommand: Command {
    static let configuration = CommandConfiguration(
        name: "delete-study",
        abstract: "Delete a study and all its trials from the store (its plots, report and exports are left alone).",
        arguments: [.study],
        options: Option.store + [.flag("yes", help: "Delete without asking: there is no undo.")])

    var target: StudyArgument
    var confirmed: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        confirmed = values.flag("yes")
    }

    func run() throws -> Int32 {
        let study = try target.open()
        let count = try study.storage.studies().first { $0.study.id == study.id }?.counts.values.reduce(0, +) ?? 0
        guard confirmed else {
            throw CLIError.badInput("deleting study '\(study.name)' (\(count) trials) from \(target.store) cannot be undone; add --yes")
        }
        guard try study.storage.deleteStudy(named: study.name) else {
            throw CLIError.runtime("study '\(study.name)' was deleted from \(target.store) meanwhile")
        }
        print("deleted study '\(study.name)' (\(count) trials) from \(target.store)")
        return 0
    }
}
