import Foundation
import Search
import Store

/// `autotune ask SPACE.json`: claim the next trial of a study and print its candidate, for search
/// loops driven from another language (evaluate it there, then `autotune tell`).
struct AskCommand: Command {
    static let configuration = CommandConfiguration(
        name: "ask",
        abstract: "Claim the next trial of a study and print it as JSON (trial number, parameters, candidate).",
        arguments: [Argument("space", valueName: "SPACE.json", help: "The study's search space file.")],
        options: [.database, .studyName])

    var spacePath: String
    var database: String
    var studyName: String?

    init(_ values: ParsedValues) throws {
        spacePath = try values.argument("space")
        database = try values.value("db")
        studyName = try values.optionalValue("study")
    }

    func validate() throws { if let studyName { try StudyStore.validateName(studyName) } }

    func run() throws -> Int32 {
        let spec = try SpaceFile.load(path: spacePath)
        let name = studyName ?? spec.name ?? URL(fileURLWithPath: spacePath).deletingPathExtension().lastPathComponent
        let storage = try StudyStore.open(database)
        let text = String(decoding: FileManager.default.contents(atPath: spacePath) ?? Data(), as: UTF8.self)
        let (study, created) = try storage.openStudy(StudyRecord(
            name: name, space: text, objectives: spec.objectives.map(\.metric), directions: spec.objectives.map(\.direction.rawValue),
            seed: spec.seed, strategy: spec.strategy.name))
        let stored = created ? spec : try StudyStore.spec(of: study)
        if !created, stored.space != spec.space || stored.objectives != spec.objectives {
            throw CLIError.badInput("study '\(name)' already exists in \(database) with a different space or objectives")
        }
        let strategy = try StudyParts.strategy(stored, file: spacePath)
        let analysis = StudyObjectives(objectives: stored.objectives, constraints: stored.constraints)
        for t in try storage.trials(study: study.id, finishedAfter: nil) where t.state.isFinished {
            if let c = try? stored.space.configuration(from: t.parameters) { strategy.tell(analysis.result(t, configuration: c)) }
        }
        var proposed: Configuration?
        let claimed: TrialRecord?
        do {
            claimed = try storage.claimTrial(study: study.id, worker: "ask:\(ProcessInfo.processInfo.processIdentifier)",
                                             limit: stored.budget.trials) { number in
                let c = try strategy.ask(number: number)
                proposed = c
                return stored.space.parameterRecords(c)
            }
        } catch StrategyError.exhausted {
            claimed = nil
        }
        guard let trial = claimed else {
            throw CLIError.runtime("study '\(name)' has spent its budget of \(stored.budget.trials.map(String.init) ?? "?") trials")
        }
        let configuration = try proposed ?? stored.space.configuration(from: trial.parameters)
        print(JSONValue.object([
            ("study", .string(name)), ("trial", .number(Double(trial.number))),
            ("parameters", .object(stored.space.parameters(configuration).map { ($0.name, $0.value) })),
            ("candidate", stored.space.materialize(configuration)),
        ]).prettyText)
        return 0
    }
}

/// `autotune tell STUDY TRIAL`: store the metrics an outside evaluation measured (or its failure).
struct TellCommand: Command {
    static let configuration = CommandConfiguration(
        name: "tell",
        abstract: "Finish a trial claimed with 'autotune ask': store its metrics (a JSON object) or its failure.",
        arguments: [.study,
                    Argument("trial", valueName: "TRIAL", help: "The trial number 'autotune ask' printed.")],
        options: [.database,
                  .value("metrics", valueName: "JSON", help: "The metrics as a JSON object, e.g. '{\"loss\": 0.31}'; '-' reads stdin.",
                         defaultDescription: "required unless --fail"),
                  .value("fail", valueName: "REASON", help: "Mark the trial failed, with this reason.")])

    var target: StudyArgument
    var number: Int
    var metricsText: String?
    var failure: String?

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        number = try values.argument("trial")
        metricsText = try values.optionalValue("metrics")
        failure = try values.optionalValue("fail")
    }

    func validate() throws {
        switch (metricsText, failure) {
        case (nil, nil): throw CLIError.missingArgument("--metrics JSON (or --fail REASON)")
        case (.some, .some): throw CLIError.invalidValue(name: "--fail", value: failure!, reason: "give either --metrics or --fail, not both")
        default: break
        }
    }

    func run() throws -> Int32 {
        let (storage, study, spec) = try target.open()
        let name = study.name
        guard let trial = try storage.trial(study: study.id, number: number) else {
            throw CLIError.badInput("study '\(name)' has no trial \(number)")
        }
        guard trial.state == .running else {
            throw CLIError.badInput("trial \(number) of study '\(name)' is already \(trial.state.rawValue)")
        }
        if let failure {
            try storage.finishTrial(study: study.id, number: number, state: .fail, metrics: [:], violation: 0, message: failure)
            print("trial \(number): FAIL")
            return 0
        }
        let metrics = try parseMetrics(metricsText!)
        let verdict = StudyObjectives(objectives: spec.objectives, constraints: spec.constraints).verdict(metrics)
        try storage.finishTrial(study: study.id, number: number, state: verdict.state, metrics: metrics,
                                violation: verdict.violation, message: verdict.message)
        print("trial \(number): \(verdict.state.rawValue)" + (verdict.message.map { " (\($0))" } ?? ""))
        return 0
    }

    private func parseMetrics(_ text: String) throws -> [String: Double] {
        let data = text == "-" ? FileHandle.standardInput.readDataToEndOfFile() : Data(text.utf8)
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch let e as JSONSyntaxError {
            throw CLIError.invalidValue(name: "--metrics", value: text, reason: e.description)
        }
        guard case .object(let members) = value else {
            throw CLIError.invalidValue(name: "--metrics", value: text, reason: "expected a JSON object of numbers")
        }
        var metrics: [String: Double] = [:]
        for m in members {
            guard let x = m.value.number else {
                throw CLIError.invalidValue(name: "--metrics", value: text, reason: "'\(m.key)' is \(m.value.kindName), expected a number")
            }
            metrics[m.key] = x
        }
        return metrics
    }
}
