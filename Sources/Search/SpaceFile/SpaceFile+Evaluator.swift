import Engine
import Foundation
import Hardware
import Parallel

extension SpaceFile {
    /// The evaluator kinds, in the order the format lists them.
    static let evaluatorNames = ["engine", "command", "benchmark", "meta"]

    /// The `evaluator` section: exactly one of `engine`, `command`, `benchmark`. Placeholders in a
    /// command are checked later, against the space.
    static func evaluator(_ value: JSONValue) throws -> EvaluatorSpec {
        let members = try object(value, at: "evaluator")
        for member in members where !evaluatorNames.contains(member.key) {
            throw ConfigError.unknownName(member.key, kind: "evaluator", among: evaluatorNames, keyPath: "evaluator." + member.key)
        }
        guard members.count == 1, let only = members.first else {
            let given = members.isEmpty ? "none" : members.map(\.key).joined(separator: " and ")
            throw ConfigError(keyPath: "evaluator", reason: "expected exactly one of engine, command, benchmark, meta, got \(given)")
        }
        switch only.key {
        case "engine": return try engineEvaluator(only.value)
        case "command": return .command(try commandEvaluator(only.value))
        case "meta": return try metaEvaluator(only.value)
        default: return try benchmarkEvaluator(only.value)
        }
    }

    /// `evaluator.meta`: `{"model": GPT, "hardware": NAME, "nodes": N, "gpus_per_node": G, "global_batch": B}`.
    private static func metaEvaluator(_ value: JSONValue) throws -> EvaluatorSpec {
        let path = "evaluator.meta"
        let members = try object(value, at: path)
        try checkKeys(members, allowed: ["model", "hardware", "nodes", "gpus_per_node", "global_batch"], at: path, owner: path)
        var model = try required(members, "model", at: path)
        let gpt = try metaModel(model)
        // A built-in name is stored as the architecture it names, so recipes and exports carry it.
        if case .string = model { model = try JSONValue(parsing: JSONEncoder().encode(ArchitectureSpec.gpt(gpt))) }
        let hardwarePath = path + ".hardware"
        let hardware = try string(try required(members, "hardware", at: path), at: hardwarePath)
        guard hardware.lowercased() != ProfileLibrary.hostName, let profile = try resolveProfile(hardware, at: hardwarePath) else {
            throw ConfigError(keyPath: hardwarePath, reason: "the meta evaluator costs clusters; name a built-in profile or a profile file")
        }
        let nodes = try optional(members, "nodes").map { try integer($0, at: path + ".nodes", atLeast: 1) } ?? 1
        let perNode = try optional(members, "gpus_per_node").map { try integer($0, at: path + ".gpus_per_node", atLeast: 1) }
        let cluster: Cluster
        do { cluster = try Cluster(profile: profile, nodes: nodes, devicesPerNode: perNode) }
        catch let e as ConfigError { throw ConfigError(keyPath: path + "." + e.keyPath, reason: e.reason) }
        let batch = try integer(try required(members, "global_batch", at: path), at: path + ".global_batch", atLeast: 1)
        return .meta(MetaSpec(modelDocument: model, model: gpt, hardware: hardware, cluster: cluster, nodes: nodes,
                              gpusPerNode: perNode, globalBatch: batch))
    }

    /// The gpt architecture of `evaluator.meta.model` — an object, or a built-in shape's name
    /// (`ModelShapes.names`) — validated.
    public static func metaModel(_ model: JSONValue) throws -> GPTSpec {
        let path = "evaluator.meta.model"
        if case .string(let name) = model {
            guard let shape = ModelShapes.named(name) else {
                throw ConfigError.unknownName(name, kind: "model", among: ModelShapes.names, keyPath: path)
            }
            return shape
        }
        let spec: ArchitectureSpec
        do {
            spec = try model.decoded(as: ArchitectureSpec.self)
        } catch let e as ConfigError {
            throw ConfigError(keyPath: e.keyPath.isEmpty ? path : path + "." + e.keyPath, reason: e.reason)
        } catch let e as DecodingError {
            if case .keyNotFound(let key, _) = e { throw ConfigError(keyPath: path + "." + key.stringValue, reason: "missing required key") }
            throw ConfigError(keyPath: path, reason: "expected a gpt architecture (family, layers, hidden, heads, sequence_length, vocabulary)")
        }
        guard case .gpt(let g) = spec else {
            throw ConfigError(keyPath: path + ".family", reason: "the meta evaluator costs gpt models, got '\(spec.family)'")
        }
        do { try spec.validate(inputShape: [g.sequenceLength], classes: g.vocabulary) }
        catch let e as ConfigError {
            let key = e.keyPath.hasPrefix("architecture.") ? String(e.keyPath.dropFirst("architecture.".count)) : e.keyPath
            throw ConfigError(keyPath: path + "." + key, reason: e.reason)
        }
        do { try g.checkCostable(microBatch: 1) } catch let e as PlanError { throw ConfigError(keyPath: path + "." + e.key, reason: e.reason) }
        return g
    }

    private static func engineEvaluator(_ value: JSONValue) throws -> EvaluatorSpec {
        let path = "evaluator.engine"
        let members = try object(value, at: path)
        try checkKeys(members, allowed: ["data", "epochs"], at: path, owner: path)
        let data = try required(members, "data", at: path)
        _ = try object(data, at: path + ".data")
        try checkEngineData(data)
        let epochs = try optional(members, "epochs").map { try integer($0, at: path + ".epochs", atLeast: 1) }
        return .engine(data: data, epochs: epochs)
    }

    /// Decodes `data` as Engine's `DataConfig` under the key path `evaluator.engine.data`.
    private static func checkEngineData(_ data: JSONValue) throws {
        func document(_ data: JSONValue) -> JSONValue {
            .object([("evaluator", .object([("engine", .object([("data", data)]))]))])
        }
        do {
            _ = try document(data).decoded(as: EngineDataProbe.self)
        } catch let error as DecodingError {
            throw describe(error, in: document(data))
        }
    }

    /// Decodes `evaluator.engine.data` as Engine's `DataConfig`, so its errors carry that key path.
    private struct EngineDataProbe: Decodable {
        init(from decoder: Decoder) throws {
            let root = try decoder.container(keyedBy: AnyKey.self)
            let evaluator = try root.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: "evaluator"))
            let engine = try evaluator.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: "engine"))
            _ = try engine.decode(DataConfig.self, forKey: AnyKey(stringValue: "data"))
        }
    }

    /// A decoding failure inside `evaluator.engine.data` as "key.path: reason", naming what was
    /// found at the path in `document`.
    private static func describe(_ error: DecodingError, in document: JSONValue) -> ConfigError {
        func found(_ codingPath: [CodingKey]) -> JSONValue? {
            var value: JSONValue? = document
            for key in codingPath {
                if let i = key.intValue { value = value?.elements.flatMap { i < $0.count ? $0[i] : nil } }
                else { value = value?[key.stringValue] }
            }
            return value
        }
        func got(_ codingPath: [CodingKey]) -> String {
            guard let value = found(codingPath) else { return "" }
            if case .number(let x) = value { return ", got \(JSONValue.format(x))" }
            return ", got \(value.kindName)"
        }
        switch error {
        case .typeMismatch(let type, let c):
            return ConfigError(keyPath: ConfigError.keyPath(c.codingPath), reason: "expected \(expectedKind(type))\(got(c.codingPath))")
        case .valueNotFound(let type, let c):
            return ConfigError(keyPath: ConfigError.keyPath(c.codingPath), reason: "expected \(expectedKind(type)), got null")
        case .keyNotFound(let key, let c):
            return ConfigError(keyPath: ConfigError.keyPath(c.codingPath + [key]), reason: "missing required key")
        case .dataCorrupted(let c):
            if case .number(let x)? = found(c.codingPath) {
                let reason = x == x.rounded() ? "is too large for an integer" : "expected an integer"
                return ConfigError(keyPath: ConfigError.keyPath(c.codingPath), reason: "\(reason)\(got(c.codingPath))")
            }
            var reason = c.debugDescription.hasSuffix(".") ? String(c.debugDescription.dropLast()) : c.debugDescription
            if let first = reason.first { reason = first.lowercased() + reason.dropFirst() }
            let path = c.codingPath.isEmpty ? "evaluator.engine.data" : ConfigError.keyPath(c.codingPath)
            return ConfigError(keyPath: path, reason: reason)
        @unknown default:
            return ConfigError(keyPath: "evaluator.engine.data", reason: "\(error)")
        }
    }

    private static func expectedKind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default: return "a value of type \(type)"
        }
    }

    private static func commandEvaluator(_ value: JSONValue) throws -> CommandSpec {
        let path = "evaluator.command"
        let members = try object(value, at: path)
        try checkKeys(members, allowed: ["run", "input", "timeout", "persistent", "cwd", "env"], at: path, owner: path)
        let runPath = path + ".run"
        let argv: [String]
        switch try required(members, "run", at: path) {
        case .string(let line):
            argv = line.split(whereSeparator: \.isWhitespace).map(String.init)
        case .array(let elements):
            argv = try elements.enumerated().map { try string($1, at: "\(runPath)[\($0)]") }
        case let other:
            throw ConfigError(keyPath: runPath, reason: "expected a string or an array of strings, got \(other.kindName)")
        }
        if argv.isEmpty { throw ConfigError(keyPath: runPath, reason: "must name a program to run") }
        if argv[0].isEmpty { throw ConfigError(keyPath: runPath + "[0]", reason: "the program name is empty") }

        var input = CommandSpec.Input.stdin
        if let v = optional(members, "input") {
            let name = try string(v, at: path + ".input")
            guard let parsed = CommandSpec.Input(rawValue: name) else {
                throw ConfigError.unknownName(name, kind: "input", among: ["stdin", "arguments"], keyPath: path + ".input")
            }
            input = parsed
        }
        let timeout = try optional(members, "timeout").map { try positiveNumber($0, at: path + ".timeout") }
        let persistent = try optional(members, "persistent").map { try bool($0, at: path + ".persistent") } ?? false
        if persistent && input == .arguments {
            throw ConfigError(keyPath: path + ".persistent", reason: "a persistent command reads candidates on stdin, so input cannot be 'arguments'")
        }
        let hasPlaceholders = try argv.indices.contains { !(try placeholders(in: argv[$0], at: "\(runPath)[\($0)]")).isEmpty }
        if input == .arguments && !hasPlaceholders {
            throw ConfigError(keyPath: path + ".input", reason: "'arguments' passes the candidate only through {placeholders}, and run has none")
        }
        var cwd: String?
        if let v = optional(members, "cwd") {
            cwd = try string(v, at: path + ".cwd")
            if cwd == "" { throw ConfigError(keyPath: path + ".cwd", reason: "must not be empty") }
        }
        var environment: [String: String] = [:]
        if let v = optional(members, "env") {
            for member in try object(v, at: path + ".env") {
                environment[member.key] = try string(member.value, at: "\(path).env.\(member.key)")
            }
        }
        return CommandSpec(argv: argv, input: input, timeoutSeconds: timeout, persistent: persistent,
                           workingDirectory: cwd, environment: environment)
    }

    private static func benchmarkEvaluator(_ value: JSONValue) throws -> EvaluatorSpec {
        let path = "evaluator.benchmark"
        let members = try object(value, at: path)
        try checkKeys(members, allowed: ["problem", "variables", "objectives"], at: path, owner: path)
        let problem = try string(try required(members, "problem", at: path), at: path + ".problem")
        let objectives = try optional(members, "objectives").map { try integer($0, at: path + ".objectives") }
        let variables = try optional(members, "variables").map { try integer($0, at: path + ".variables") }
            ?? defaultVariables(problem: problem, objectives: objectives)
        let checked = try BenchmarkProblem(name: problem, variables: variables, objectives: objectives)
        return .benchmark(problem: problem, variables: checked.variables, objectives: checked.objectives)
    }

    /// The customary number of variables: 30 for ZDT1–3, 10 for ZDT4 and ZDT6 (Zitzler, Deb &
    /// Thiele 2000); M + k − 1 with k = 5 (DTLZ1), 20 (DTLZ7), 10 otherwise (Deb et al. 2002).
    static func defaultVariables(problem: String, objectives: Int?) -> Int {
        let m = objectives ?? 3
        switch problem {
        case "zdt1", "zdt2", "zdt3": return 30
        case "zdt4", "zdt6": return 10
        case "dtlz1": return m + 4
        case "dtlz7": return m + 19
        default: return m + 9
        }
    }

    // MARK: Placeholders

    /// The placeholders of one command argument, by `CommandArguments`' rules (`{name}`; `{{` and
    /// `}}` are literal braces), or the reason the argument is malformed.
    static func placeholders(in argument: String, at path: String) throws -> [String] {
        do {
            return try CommandArguments.placeholders(in: [argument])
        } catch let error as EvaluationError {
            throw ConfigError(keyPath: path, reason: error.reason)
        }
    }

    /// The parameter a placeholder names among `names` (full key paths): a full key path, or the
    /// last key of exactly one of them; nil when it names none or is ambiguous.
    ///
    ///     SpaceFile.resolvePlaceholder("lr", among: ["training.lr", "training.batch_size"])   // "training.lr"
    static func resolvePlaceholder(_ placeholder: String, among names: [String]) -> String? {
        if names.contains(placeholder) { return placeholder }
        let matches = Set(names.filter { lastKey($0) == placeholder })
        return matches.count == 1 ? matches.first : nil
    }

    /// `channels` for `architecture.stages[0].channels`.
    static func lastKey(_ path: String) -> String {
        path.split(separator: ".").last.map(String.init) ?? path
    }

    /// Every placeholder of the command names a parameter of `space`, unambiguously; a persistent
    /// command has none (one process serves every candidate).
    static func checkPlaceholders(_ command: CommandSpec, space: SearchSpace) throws {
        var names: [String] = []
        for d in space.dimensions where !names.contains(d.name) { names.append(d.name) }
        for (i, argument) in command.argv.enumerated() {
            let path = "evaluator.command.run[\(i)]"
            for placeholder in try placeholders(in: argument, at: path) {
                if command.persistent {
                    throw ConfigError(keyPath: path, reason: "placeholder {\(placeholder)} in a persistent command, which reads every candidate on stdin (write {{ and }} for literal braces)")
                }
                if resolvePlaceholder(placeholder, among: names) != nil { continue }
                let same = names.filter { lastKey($0) == placeholder }
                if same.count > 1 {
                    throw ConfigError(keyPath: path, reason: "placeholder {\(placeholder)} is ambiguous (\(same.joined(separator: ", "))); write the full key path")
                }
                var reason = "placeholder {\(placeholder)} names no parameter"
                var candidates: [String] = []
                for name in names { candidates += [lastKey(name), name] }
                if let near = closestMatch(to: placeholder, among: candidates) {
                    reason += ". Did you mean '\(near)'?"
                } else {
                    reason += names.isEmpty ? " (the space has none)" : " (parameters: \(names.joined(separator: ", ")))"
                }
                throw ConfigError(keyPath: path, reason: reason)
            }
        }
    }
}
