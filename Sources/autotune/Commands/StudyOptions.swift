import Engine
import Foundation
import Hardware
import Search
import Store

extension Option {
    /// `--db PATH`: the SQLite file studies live in.
    static let database = Option.value(
        "db", valueName: "PATH", help: "SQLite file holding the studies.", default: StudyStore.defaultPath)

    /// `--study NAME`.
    static let studyName = Option.value(
        "study", valueName: "NAME", help: "Study name (letters, digits, '-', '_', '.').",
        defaultDescription: "the space file's \"name\", else its base name")
}

/// Opening the store and the studies in it, for every study command.
enum StudyStore {
    static let defaultPath = "results/autotune.sqlite"

    /// A store that cannot be opened (or is newer than this autotune) exits with 2, as bad input.
    static func open(_ path: String) throws -> SQLiteStorage {
        try SQLiteStorage(path: path)
    }

    /// The named study, or a clear error listing the studies there are.
    static func study(_ name: String, in storage: StudyStorage, path: String) throws -> StudyRecord {
        if let s = try storage.study(named: name) { return s }
        let names = try storage.studies().map(\.study.name)
        var reason = "no study '\(name)' in \(path)"
        reason += names.isEmpty ? " (it holds no studies yet)" : " (studies: \(names.joined(separator: ", ")))"
        if let near = ConfigError.suggestion(for: name, among: names) { reason += ". Did you mean '\(near)'?" }
        throw CLIError.badInput(reason)
    }

    /// The study's spec, re-read from the space document stored with it.
    static func spec(of study: StudyRecord) throws -> StudySpec {
        do {
            return try SpaceFile.parse(Data(study.space.utf8), file: "study '\(study.name)'")
        } catch let e as InputFileError {
            throw CLIError.runtime("stored space of study '\(study.name)' no longer parses: \(e.reason)")
        }
    }

    /// Where a study's plots, report and exports (and the nightly page) go by default: a folder
    /// named after it beside its store (`results/<study>` for the default `results/autotune.sqlite`).
    static func folder(_ name: String, database: String) -> String {
        ((database as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name)
    }

    /// Study names as the store accepts them.
    static func validateName(_ name: String) throws {
        let ok = !name.isEmpty && name.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)
        }
        guard ok else {
            throw CLIError.invalidValue(name: "--study", value: name, reason: "use letters, digits, '-', '_' and '.' only")
        }
    }
}

/// How each part of a study is built from its spec.
enum StudyParts {
    static func evaluator(_ spec: StudySpec, threads: Int?, dataDirectory: String?) throws -> Evaluator {
        switch spec.evaluator {
        case .benchmark(let problem, let variables, let objectives):
            return BenchmarkEvaluator(try BenchmarkProblem(name: problem, variables: variables, objectives: objectives))
        case .engine(let data, let epochs):
            var data = data
            if let dir = dataDirectory, case .object(var members) = data {
                members.removeAll { $0.key == "dir" }
                members.append(.init("dir", .string(dir)))
                data = .object(members)
            }
            return EngineEvaluator(data: data, epochs: epochs, threads: threads, hardware: try hardware(spec))
        case .command(let command):
            return CommandEvaluator(command)
        case .meta(let model, let hardware, let nodes, let perNode, let batch):
            let cluster = try Cluster(profile: try ProfileLibrary.profile(named: hardware), nodes: nodes, devicesPerNode: perNode)
            return MetaEvaluator(model: try SpaceFile.metaModel(model), cluster: cluster, globalBatch: batch,
                                 requested: Set(spec.objectives.map(\.metric) + spec.constraints.map(\.metric)))
        }
    }

    /// The profiles the study's `metric@profile` objectives and constraints name, each once.
    static func hardware(_ spec: StudySpec) throws -> [(name: String, profile: HardwareProfile)] {
        var result: [(name: String, profile: HardwareProfile)] = []
        for metric in spec.objectives.map(\.metric) + spec.constraints.map(\.metric) {
            guard let (_, name) = SpaceFile.hardwareMetric(metric), !result.contains(where: { $0.name == name }) else { continue }
            result.append((name, try ProfileLibrary.profile(named: name)))
        }
        return result
    }

    /// A factory, since several workers rebuild early stopping from everyone's curves.
    static func earlyStopping(_ spec: StudySpec, file: String) throws -> (() throws -> EarlyStopping)? {
        guard let es = spec.earlyStopping else { return nil }
        var maxResource = es.maxResource
        if maxResource == nil, case .engine(_, let epochs) = spec.evaluator { maxResource = epochs }
        guard let maxResource else {
            throw InputFileError(file: file, reason: "early_stopping.max_resource: needed when the evaluator has no epoch budget (evaluator.engine.epochs)")
        }
        let objectives = spec.objectives.count, seed = spec.seed
        do {
            _ = try EarlyStoppingFactory.make(es, maxResource: maxResource, objectives: objectives, seed: seed)
        } catch let e as ConfigError {
            throw InputFileError(file: file, reason: e.description)
        }
        return { try EarlyStoppingFactory.make(es, maxResource: maxResource, objectives: objectives, seed: seed) }
    }

    static func strategy(_ spec: StudySpec, file: String) throws -> Strategy {
        do {
            return try StrategyFactory.make(spec.strategy, space: spec.space, objectives: spec.objectives.count, seed: spec.seed)
        } catch let e as ConfigError {
            throw InputFileError(file: file, reason: e.description)
        }
    }
}
