import Engine
import Foundation
import Report
import Search
import Store

/// `autotune ask SPACE.json`: claim the next trial of a study and print its candidate, for search
/// loops driven from another language (evaluate it there, then `autotune tell`).
struct AskCommand: Command {
    static let configuration = CommandConfiguration(
        name: "ask",
        abstract: "Claim the next trial of a study and print it as JSON (trial number, parameters, candidate).",
        arguments: [Argument("space", valueName: "SPACE.json", help: "The study's search space file.")],
        options: Option.store + [.studyName])

    var spacePath: String
    var store: StudyStore
    var studyName: String?

    init(_ values: ParsedValues) throws {
        spacePath = try values.argument("space")
        store = try StudyStore(values)
        studyName = try values.optionalValue("study")
    }

    func validate() throws { if let studyName { try StudyStore.validateName(studyName) } }

    func run() throws -> Int32 {
        let spec = try SpaceFile.load(path: spacePath)
        try CommandExport.check(spec)
        let name = studyName ?? spec.name ?? URL(fileURLWithPath: spacePath).deletingPathExtension().lastPathComponent
        try StudyStore.validateName(name)
        // Checked before the store is opened, so bad input never leaves a store or study behind.
        try spec.checkParts()
        let (study, _) = try Study.create(spec, named: name, in: try store.open(), location: store.description, folder: store.folder(name))
        let asked = try study.ask(worker: "ask:\(ProcessInfo.processInfo.processIdentifier)")
        print(JSONValue.object([
            ("study", .string(name)), ("trial", .number(Double(asked.trial.number))),
            ("parameters", .object(asked.parameters.map { ($0.name, $0.value) })),
            ("candidate", asked.candidate),
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
        options: [.database, .storage,
                  .value("metrics", valueName: "JSON", help: "The metrics as a JSON object, e.g. '{\"loss\": 0.31}'; '-' reads stdin.",
                         defaultDescription: "required unless --fail"),
                  .value("fail", valueName: "REASON", help: "Mark the trial failed, with this reason."), .json])

    var target: StudyArgument
    var number: Int
    var metricsText: String?
    var failure: String?
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        json = values.flag("json")
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
        let study = try target.open()
        let state: TrialState, message: String?
        if let failure {
            try study.fail(number, reason: failure)
            (state, message) = (.fail, nil)
        } else {
            (state, message) = try study.tell(number, metrics: try parseMetrics(metricsText!))
        }
        if json {
            var reply: [(String, JSONValue)] = [("study", .string(study.name)), ("trial", .number(Double(number))), ("state", .string(state.rawValue))]
            if let message { reply.append(("message", .string(message))) }
            print(JSONValue.object(reply).prettyText)
        } else {
            print("trial \(number): \(state.rawValue)" + (message.map { " (\($0))" } ?? ""))
        }
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
