import Engine
import Foundation

/// Reads a search space file (`autotune search SPACE.json`) into a validated `StudySpec`.
///
/// The candidate sections hold the candidate with NNI-style distributions where the search
/// decides; the other keys configure the study. The format is documented in
/// `searchspaces/SPACE-FORMAT.md`.
///
///     {"training": {"optimizer": {"name": "adam", "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}},
///      "evaluator": {"command": {"run": "python3 train.py"}},
///      "objectives": {"accuracy": "maximize"}}
///
/// Every problem is an `InputFileError` whose reason is one line, "key.path: what is wrong".
public enum SpaceFile {
    /// Top-level keys that hold the candidate (searched or fixed).
    public static let candidateSections = ["architecture", "training", "precision", "compression", "parallelism"]
    /// Top-level keys that configure the study.
    public static let settingKeys = ["evaluator", "objectives", "constraints", "strategy", "early_stopping", "budget", "seed", "workers", "name", "reference_point", "max_consecutive_failures", "max_retries", "export", "keep_weights"]
    /// Metrics the engine evaluator reports, which its objectives and constraints may name (and
    /// its `MetricCatalogue.hardware` metrics `@` a profile).
    public static var engineMetrics: [String] { MetricCatalogue.engine.map(\.name) }
    /// Most candidates the grid strategy enumerates.
    public static let gridLimit = 1_000_000
    /// Trials when the file sets no budget.
    public static let defaultTrials = 100

    /// Read and validate the space file at `path`.
    public static func load(path: String) throws -> StudySpec {
        guard FileManager.default.fileExists(atPath: path) else { throw InputFileError(file: path, reason: "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputFileError(file: path, reason: "cannot read file") }
        return try parse(data, file: path)
    }

    /// Validate the space file text `data`, naming it `file` in errors.
    public static func parse(_ data: Data, file: String) throws -> StudySpec {
        do {
            var spec = try study(try JSONValue(parsing: data))
            spec.source = file
            return spec
        } catch let error as JSONSyntaxError {
            throw InputFileError(file: file, reason: error.description)
        } catch let error as ConfigError {
            throw InputFileError(file: file, reason: error.description)
        }
    }

    /// The study a parsed document describes.
    static func study(_ document: JSONValue) throws -> StudySpec {
        guard let members = document.members else {
            throw ConfigError(keyPath: "top level", reason: "expected an object, got \(document.kindName)")
        }
        for member in members where !(candidateSections + settingKeys).contains(member.key) {
            if member.key == "data" {
                throw ConfigError(keyPath: "data", reason: "the data set belongs under evaluator.engine.data")
            }
            try checkKeys([member], allowed: candidateSections + settingKeys, at: "", owner: "a space file")
        }

        let evaluator = try evaluator(try required(members, "evaluator", at: ""))
        var sections = members.filter { candidateSections.contains($0.key) }
        var notes: [String] = []
        let space: SearchSpace
        var metrics: [String]?
        var defaultObjectives: [Objective]?
        switch evaluator {
        case .benchmark(let problem, let variables, let count):
            if let section = sections.first {
                throw ConfigError(keyPath: section.key, reason: "a benchmark study has no candidate sections (the space is \(problem)'s \(variables) variables)")
            }
            space = .unitCube(variables)
            let names = (1...(count ?? 2)).map { "f\($0)" }
            metrics = names
            defaultObjectives = names.map { Objective($0, .minimize) }
        case .engine(let data, let epochs):
            for key in ["architecture", "training"] where !sections.contains(where: { $0.key == key }) {
                throw ConfigError(keyPath: key, reason: "missing required key for the engine evaluator")
            }
            metrics = engineMetrics
            var builder = SpaceTemplateBuilder()
            space = try builder.build(sections: sections)
            try checkEngineSpace(space, sections: sections, data: data, epochs: epochs)
        case .command(let command):
            var builder = SpaceTemplateBuilder()
            space = try builder.build(sections: sections)
            try checkPlaceholders(command, space: space)
        case .meta(let meta):
            if let section = sections.first(where: { $0.key != "parallelism" && $0.key != "precision" }) {
                throw ConfigError(keyPath: section.key, reason: "the meta evaluator searches only parallelism and precision")
            }
            if let plan = sections.first(where: { $0.key == "parallelism" }), let keys = plan.value.members {
                for k in keys where !MetaEvaluator.planKeys.contains(k.key) {
                    throw ConfigError.unknownName(k.key, kind: "parallelism setting", among: MetaEvaluator.planKeys, keyPath: "parallelism." + k.key)
                }
            }
            metrics = MetricCatalogue.meta.map(\.name)
            if let i = sections.firstIndex(where: { $0.key == "precision" }) {
                let (kept, left) = try metaPrecision(sections[i].value, profile: meta.cluster.profile)
                if let kept { sections[i].value = kept }
                notes = left
            }
            var builder = SpaceTemplateBuilder()
            space = try builder.build(sections: sections)
        }

        let objectives: [Objective]
        if let value = optional(members, "objectives") {
            objectives = try Self.objectives(value, metrics: metrics)
        } else if let defaultObjectives {
            objectives = defaultObjectives
        } else {
            throw ConfigError(keyPath: "objectives", reason: "missing required key (the \(evaluator.name) evaluator needs at least one objective)")
        }
        let constraints = try optional(members, "constraints").map { try Self.constraints($0, metrics: metrics) } ?? []
        let strategy = try optional(members, "strategy").map(Self.strategy)
            ?? StrategySpec(name: "auto")
        var earlyStopping: EarlyStoppingSpec?
        if let value = optional(members, "early_stopping") {
            if case .benchmark = evaluator {
                throw ConfigError(keyPath: "early_stopping", reason: "a benchmark evaluator has no learning curves to stop early")
            }
            earlyStopping = try Self.earlyStopping(value)
        }
        let budget = try optional(members, "budget").map(Self.budget) ?? Budget(trials: defaultTrials)
        let seed = try optional(members, "seed").map(Self.seed) ?? 0
        let workers = try optional(members, "workers").map(Self.workers) ?? 1
        let name = try optional(members, "name").map(studyName)
        let reference = try optional(members, "reference_point").map { try referencePoint($0, objectives: objectives) }
        let failureLimit = try optional(members, "max_consecutive_failures").map { try integer($0, at: "max_consecutive_failures", atLeast: 0) }
        let retryLimit = try optional(members, "max_retries").map { try integer($0, at: "max_retries", atLeast: 0) }
        var export: ExportMapping?
        if let value = optional(members, "export") {
            guard case .command = evaluator else {
                throw ConfigError(keyPath: "export", reason: "only a command study maps its parameters for export (\(evaluator.name == "engine" ? "an" : "a") \(evaluator.name) study's export writes its own settings)")
            }
            export = try exportMapping(value, space: space)
        }
        // With `resolution`, the grid strategy discretises continuous dimensions itself.
        if strategy.name == "grid", strategy.options["resolution"] == nil { try checkFinite(space) }
        var spec = StudySpec(space: space, evaluator: evaluator, objectives: objectives, constraints: constraints, strategy: strategy,
                             earlyStopping: earlyStopping, budget: budget, seed: seed, workers: workers, name: name)
        spec.referencePoint = reference
        if let failureLimit { spec.maxConsecutiveFailures = failureLimit }
        if let retryLimit { spec.maxRetries = retryLimit }
        spec.export = export
        if let keeping = try optional(members, "keep_weights").map(Self.keepWeights) { spec.keepWeights = keeping }
        spec.document = document
        spec.notes = notes
        return spec
    }

    /// `{"accuracy": 0.5, "flops": 2e6}`: one finite number per objective, in its own units.
    static func referencePoint(_ value: JSONValue, objectives: [Objective]) throws -> [Double] {
        guard let members = value.members else {
            throw ConfigError(keyPath: "reference_point", reason: "expected an object of objective → number, got \(value.kindName)")
        }
        try checkKeys(members, allowed: objectives.map(\.metric), at: "reference_point", owner: "the reference point (one value per objective)")
        return try objectives.map { o in
            guard let v = members.first(where: { $0.key == o.metric })?.value else {
                throw ConfigError(keyPath: "reference_point.\(o.metric)", reason: "missing (the reference point needs every objective)")
            }
            guard let x = v.number, x.isFinite else {
                throw ConfigError(keyPath: "reference_point.\(o.metric)", reason: "expected a finite number, got \(v.kindName)")
            }
            return x
        }
    }

    // MARK: Grid

    /// The grid strategy enumerates the space: every dimension must be finite and there must be at
    /// most `gridLimit` candidates (counted without enumerating them).
    static func checkFinite(_ space: SearchSpace) throws {
        if let continuous = space.dimensions.first(where: { valueCount($0.domain) == nil }) {
            throw ConfigError(keyPath: "strategy", reason: "grid needs a finite space; '\(continuous.name)' is continuous")
        }
        let count = candidateCount(space.template, space)
        if count > gridLimit {
            throw ConfigError(keyPath: "strategy", reason: "grid enumerates at most \(gridLimit) candidates; this space has \(count == .max ? "more" : String(count))")
        }
    }

    /// Distinct values of a domain, nil when continuous (saturating).
    static func valueCount(_ domain: Domain) -> Int? {
        switch domain {
        case .choice(let options): return options.count
        case .integer(let lower, let upper): return upper - lower + 1
        case .real(let prior):
            guard let q = prior.q, case .uniform(let low, let high) = prior.shape else { return nil }
            let steps = ((high / q).rounded() - (low / q).rounded()) + 1
            return steps >= Double(Int.max) ? .max : max(1, Int(steps))
        }
    }

    /// Distinct candidates the template produces (each choice counts its options' sub-spaces).
    static func candidateCount(_ node: SpaceNode, _ space: SearchSpace) -> Int {
        func product(_ counts: [Int]) -> Int {
            counts.reduce(1) { let (p, overflow) = $0.multipliedReportingOverflow(by: $1); return overflow ? .max : p }
        }
        switch node {
        case .constant: return 1
        case .array(let nodes): return product(nodes.map { candidateCount($0, space) })
        case .object(let fields): return product(fields.map { candidateCount($0.node, space) })
        case .decision(let index, let options, let merged):
            if options.isEmpty { return valueCount(space.dimensions[index].domain) ?? .max }
            return options.indices.reduce(0) { sum, k in
                let fields = merged.isEmpty ? [] : merged[k].map { candidateCount($0.node, space) }
                let (s, overflow) = sum.addingReportingOverflow(product([candidateCount(options[k], space)] + fields))
                return overflow ? .max : s
            }
        }
    }
}
