import Engine
import Foundation
import Search

/// Exports of a command study — one run with the user's own training script. The space's
/// `export` section (`ExportMapping`) says which DeepSpeed or Accelerate setting each parameter
/// is; the launch line is the space's `run` command with the trial's values, under `deepspeed`
/// or `accelerate launch`. Without a mapping, `recipe` gives the parameters as JSON, an argument
/// file and the launch line.
public enum CommandExport {
    /// The trial's parameters by full key path, as its run command's placeholders see them.
    static func parameters(_ picked: PickedTrial) throws -> [(name: String, value: JSONValue)] {
        try picked.trial.parameters.map { p in
            do { return (p.name, try JSONValue(parsing: Data(p.json.utf8))) } catch {
                throw ReportError("trial \(picked.trial.number) of study '\(picked.study.name)': parameter \(p.name) is stored as '\(p.json)', which is not JSON", kind: .tool)
            }
        }
    }

    /// The run command with the trial's values in its placeholders.
    static func argv(_ picked: PickedTrial, _ command: CommandSpec) throws -> [String] {
        do { return try CommandArguments.substitute(command.argv, parameters: try parameters(picked)) } catch let e as EvaluationError {
            throw ReportError("the run command of study '\(picked.study.name)': \(e.reason)")
        }
    }

    /// How many leading words of `argv` name the program: the interpreter and the script for a
    /// Python script, else the program alone.
    static func programWords(_ argv: [String]) -> Int {
        guard let program = argv.first else { return 0 }
        let python = (program as NSString).lastPathComponent.hasPrefix("python")
        return python && argv.count > 1 && !argv[1].hasPrefix("-") ? 2 : 1
    }

    /// `launcher` words, then the program: a Python script runs under the launcher's own Python,
    /// anything else with `--no_python`.
    static func launch(_ launcher: [String], _ argv: [String]) -> [String] {
        guard !argv.isEmpty else { return launcher }
        return programWords(argv) == 2 ? launcher + argv.dropFirst() : launcher + ["--no_python"] + argv
    }

    /// A DeepSpeed config from the mapping, with the launch script running the user's program.
    static func deepspeed(_ picked: PickedTrial, _ command: CommandSpec, to path: String, beside: (String) -> String, title: String) throws -> ExportOutput {
        let target = try mapping(picked, "deepspeed")
        let config = try settings(picked, target, section: "deepspeed")
        let problems = DeepSpeedSchema.violations(config)
        guard problems.isEmpty else {
            throw ReportError("export.deepspeed of study '\(picked.study.name)' makes a ds_config DeepSpeed refuses: \(problems.joined(separator: "; "))")
        }
        let words = launch(["deepspeed"], try argv(picked, command)) + ["--deepspeed", "--deepspeed_config", path]
        let line = words.map(shellQuoted).joined(separator: " ")
        let script = ["#!/bin/sh", "# \(title)", "set -e", line + " \"$@\""].joined(separator: "\n") + "\n"
        return ExportOutput(files: [ExportFile(path: path, text: config.prettyText + "\n"), ExportFile(path: beside("launch.sh"), text: script)],
                            warnings: stdinWarning(command), commands: [line])
    }

    /// An Accelerate config from the mapping: `distributed_type` defaults to MULTI_GPU when more
    /// than one process is asked for, else NO.
    static func accelerate(_ picked: PickedTrial, _ command: CommandSpec, to path: String) throws -> ExportOutput {
        let target = try mapping(picked, "accelerate")
        var config = try settings(picked, target, section: "accelerate")
        if config["distributed_type"] == nil {
            let processes = config["num_processes"]?.number ?? 1
            config = config.setting(.string(processes > 1 ? "MULTI_GPU" : "NO"), at: ["distributed_type"])
        }
        if config["compute_environment"] == nil {
            config = .object([JSONValue.Member("compute_environment", .string("LOCAL_MACHINE"))] + (config.members ?? []))
        }
        if let problem = AccelerateSchema.problems(config).first {
            throw ReportError("export.accelerate of study '\(picked.study.name)': \(problem)")
        }
        let words = launch(["accelerate", "launch", "--config_file", path], try argv(picked, command))
        return ExportOutput(files: [ExportFile(path: path, text: AccelerateSchema.yaml(config))], warnings: stdinWarning(command),
                            commands: [words.map(shellQuoted).joined(separator: " ")])
    }

    /// The parameters as JSON at `path`, the run command's arguments (after the program, or the
    /// script) one per line beside it (`<stem>.args`, for argparse's `fromfile_prefix_chars='@'`),
    /// and the launch line.
    static func recipe(_ picked: PickedTrial, _ command: CommandSpec, to path: String, beside: (String) -> String) throws -> ExportOutput {
        let argv = try argv(picked, command)
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let args = ExportFile(path: beside(stem + ".args"), text: argv.dropFirst(programWords(argv)).map { $0 + "\n" }.joined())
        var line = argv.map(shellQuoted).joined(separator: " ")
        if command.input == .stdin { line += " < " + shellQuoted(path) }
        if let cwd = command.workingDirectory { line = "cd \(shellQuoted(cwd)) && " + line }
        let env = command.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuoted($0.value))" }
        if !env.isEmpty { line = env.joined(separator: " ") + " " + line }
        return ExportOutput(files: [ExportFile(path: path, text: picked.recipe.document.prettyText + "\n"), args], warnings: [], commands: [line])
    }

    private static func stdinWarning(_ command: CommandSpec) -> [String] {
        command.input == .stdin
            ? ["the run command reads its candidate on stdin, which a multi-process launcher does not pass on: the settings are in the config; export --format recipe writes the candidate as a file"]
            : []
    }

    /// The study's mapping for `name`, or an error saying how to write one.
    private static func mapping(_ picked: PickedTrial, _ name: String) throws -> ExportMapping.Target {
        guard let target = picked.spec.export?.target(name) else {
            throw ReportError("study '\(picked.study.name)' runs a command, and its space has no export.\(name) section mapping its parameters onto \(name == "deepspeed" ? "DeepSpeed" : "Accelerate") settings "
                              + "(for example \"export\": {\"\(name)\": {\"map\": {\"lr\": \"\(name == "deepspeed" ? "optimizer.params.lr" : "mixed_precision")\"}}}); "
                              + "--format recipe writes the parameters, an argument file and the launch line")
        }
        return target
    }

    /// `target.base` with each mapped parameter's value written at its key path.
    private static func settings(_ picked: PickedTrial, _ target: ExportMapping.Target, section: String) throws -> JSONValue {
        let values = Dictionary(try parameters(picked), uniquingKeysWith: { a, _ in a })
        var config = target.base
        for entry in target.map {
            // A parameter inactive in this trial (a conditional branch not taken) sets nothing.
            guard let value = values[entry.parameter] else { continue }
            let path = entry.key.split(separator: ".").map(String.init)
            if let clash = config.blockingPrefix(of: path) {
                throw ReportError("export.\(section).map.\(entry.parameter): '\(entry.key)' goes through '\(clash)', which export.\(section).base sets to a value that is not an object")
            }
            config = config.setting(value, at: path)
        }
        return config
    }
}

extension JSONValue {
    /// This object with `value` at `path`, making the objects on the way.
    func setting(_ value: JSONValue, at path: [String]) -> JSONValue {
        guard let key = path.first else { return value }
        var members = self.members ?? []
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = members[i].value.setting(value, at: Array(path.dropFirst()))
        } else {
            members.append(Member(key, JSONValue.object([Member]()).setting(value, at: Array(path.dropFirst()))))
        }
        return .object(members)
    }

    /// The first proper prefix of `path` holding something other than an object, dotted.
    func blockingPrefix(of path: [String]) -> String? {
        var node: JSONValue = self
        for (i, key) in path.dropLast().enumerated() {
            guard let next = node[key] else { return nil }
            guard next.members != nil else { return path[...i].joined(separator: ".") }
            node = next
        }
        return nil
    }
}

extension CommandExport {
    /// What is wrong with a command study's `export` section that only DeepSpeed's and
    /// Accelerate's schemas know: keys they do not read, as "export.deepspeed.map: ..." lines.
    public static func problems(_ mapping: ExportMapping) -> [String] {
        var out: [String] = []
        func check(_ target: ExportMapping.Target?, _ name: String, _ keyProblem: ([String]) -> String?) {
            guard let target else { return }
            func walk(_ value: JSONValue, _ path: [String]) {
                if let members = value.members, !members.isEmpty {
                    for m in members { walk(m.value, path + [m.key]) }
                } else if let problem = keyProblem(path) {
                    out.append("export.\(name).base: \(problem)")
                }
            }
            for m in target.base.members ?? [] { walk(m.value, [m.key]) }
            for entry in target.map {
                if let problem = keyProblem(entry.key.split(separator: ".").map(String.init)) {
                    out.append("export.\(name).map (\(entry.parameter)): \(problem)")
                }
            }
        }
        check(mapping.deepspeed, "deepspeed", DeepSpeedSchema.keyProblem)
        check(mapping.accelerate, "accelerate", AccelerateSchema.keyProblem)
        return out
    }

    /// Throws the first problem of `spec`'s export section as an input error naming its file.
    public static func check(_ spec: StudySpec) throws {
        guard let mapping = spec.export, let problem = problems(mapping).first else { return }
        throw InputFileError(file: spec.source, reason: problem)
    }
}
