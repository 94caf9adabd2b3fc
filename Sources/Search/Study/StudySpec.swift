import Engine
import Hardware

/// A metric to optimise and in which direction.
public struct Objective: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable, CaseIterable { case minimize, maximize }
    public var metric: String
    public var direction: Direction
    public init(_ metric: String, _ direction: Direction) { self.metric = metric; self.direction = direction }

    /// The value as strategies see it: minimised (a maximised metric is negated).
    public func minimized(_ value: Double) -> Double { direction == .minimize ? value : -value }
}

/// A bound on a metric: `metric ≤ bound` or `metric ≥ bound`.
public struct MetricConstraint: Hashable, Sendable {
    public enum Relation: String, Hashable, Sendable { case atMost = "<=", atLeast = ">=" }
    public var metric: String
    public var relation: Relation
    public var bound: Double
    public init(_ metric: String, _ relation: Relation, _ bound: Double) { self.metric = metric; self.relation = relation; self.bound = bound }

    /// How far `value` is on the wrong side of the bound (0 when satisfied).
    public func violation(_ value: Double) -> Double {
        switch relation {
        case .atMost: return max(0, value - bound)
        case .atLeast: return max(0, bound - value)
        }
    }
}

/// How candidates are evaluated.
public enum EvaluatorSpec: Hashable, Sendable {
    /// Train on the built-in engine. `data` is the candidate's `data` section (a DataConfig
    /// object); `epochs` caps training epochs (the resource multi-fidelity stopping spends).
    case engine(data: JSONValue, epochs: Int?)
    /// Run the user's program.
    case command(CommandSpec)
    /// An analytic test problem.
    case benchmark(problem: String, variables: Int, objectives: Int?)
    /// Cost a GPT's training plans shape-only on a cluster.
    case meta(MetaSpec)

    public var name: String {
        switch self {
        case .engine: return "engine"
        case .command: return "command"
        case .benchmark: return "benchmark"
        case .meta: return "meta"
        }
    }
}

/// The meta evaluator's model and cluster, as written and resolved: the gpt architecture and the
/// profile's cluster are checked once, when the space is read.
public struct MetaSpec: Hashable, Sendable {
    /// The `model` object as written.
    public var modelDocument: JSONValue
    /// The profile name (a built-in name or a profile file).
    public var hardware: String
    public var nodes: Int
    public var gpusPerNode: Int?
    public var globalBatch: Int
    public let model: GPTSpec
    public let cluster: Cluster

    public init(modelDocument: JSONValue, model: GPTSpec, hardware: String, cluster: Cluster, nodes: Int, gpusPerNode: Int?, globalBatch: Int) {
        self.modelDocument = modelDocument; self.model = model; self.hardware = hardware; self.cluster = cluster
        self.nodes = nodes; self.gpusPerNode = gpusPerNode; self.globalBatch = globalBatch
    }

    /// Equal when written the same: the resolved parts follow from the written ones.
    public static func == (a: MetaSpec, b: MetaSpec) -> Bool {
        (a.modelDocument, a.hardware, a.nodes, a.gpusPerNode, a.globalBatch) == (b.modelDocument, b.hardware, b.nodes, b.gpusPerNode, b.globalBatch)
    }

    public func hash(into h: inout Hasher) {
        h.combine(modelDocument); h.combine(hardware); h.combine(nodes); h.combine(gpusPerNode); h.combine(globalBatch)
    }
}

/// The user's program as an evaluator.
public struct CommandSpec: Hashable, Sendable {
    public enum Input: String, Hashable, Sendable { case stdin, arguments }
    /// Program and arguments; `{name}` placeholders (a parameter's last key, or its full key path)
    /// are replaced by the candidate's values.
    public var argv: [String]
    /// `stdin`: the candidate JSON is written to the program's standard input.
    /// `arguments`: only the placeholders carry it.
    public var input: Input
    public var timeoutSeconds: Double?
    /// One long-running process answering one JSON line per candidate line.
    public var persistent: Bool
    public var workingDirectory: String?
    public var environment: [String: String]

    public init(argv: [String], input: Input = .stdin, timeoutSeconds: Double? = nil, persistent: Bool = false,
                workingDirectory: String? = nil, environment: [String: String] = [:]) {
        self.argv = argv; self.input = input; self.timeoutSeconds = timeoutSeconds; self.persistent = persistent
        self.workingDirectory = workingDirectory; self.environment = environment
    }
}

/// The strategy's name and its options object (each strategy reads its own options).
public struct StrategySpec: Hashable, Sendable {
    public var name: String
    public var options: JSONValue
    public init(name: String, options: JSONValue = .object([JSONValue.Member]())) { self.name = name; self.options = options }
}

/// Multi-fidelity early stopping over a trial's learning curve.
public struct EarlyStoppingSpec: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable { case successiveHalving = "successive_halving", hyperband }
    public var kind: Kind
    /// Smallest resource (epochs) a trial gets before it can be stopped.
    public var minResource: Int
    /// Largest resource; defaults to the evaluator's epoch budget.
    public var maxResource: Int?
    /// η: each rung keeps the best 1/η.
    public var reductionFactor: Int
    public init(kind: Kind, minResource: Int = 1, maxResource: Int? = nil, reductionFactor: Int = 3) {
        self.kind = kind; self.minResource = minResource; self.maxResource = maxResource; self.reductionFactor = reductionFactor
    }
}

/// Whether a study keeps the trained weights of its Pareto-front members (engine studies), and
/// how many bytes of them at most. Space file key `keep_weights`: `true` (the default,
/// `defaultLimitMiB`), `false`, or `{"max_mib": N}`.
public enum WeightKeeping: Hashable, Sendable {
    case off
    case upTo(bytes: Int)

    public static let defaultLimitMiB = 256
    public static let `default` = WeightKeeping.upTo(bytes: defaultLimitMiB << 20)
}

/// When a study stops: after `trials` trials and/or `seconds` of wall-clock time.
public struct Budget: Hashable, Sendable {
    public var trials: Int?
    public var seconds: Double?
    public init(trials: Int? = nil, seconds: Double? = nil) { self.trials = trials; self.seconds = seconds }
}

/// A parsed, validated space file: everything `autotune search` needs.
public struct StudySpec: Hashable, Sendable {
    /// The search space over the candidate sections (architecture, training, precision,
    /// compression, parallelism) — or, for a benchmark problem, over its variables.
    public var space: SearchSpace
    public var evaluator: EvaluatorSpec
    public var objectives: [Objective]
    public var constraints: [MetricConstraint]
    public var strategy: StrategySpec
    public var earlyStopping: EarlyStoppingSpec?
    public var budget: Budget
    public var seed: UInt64
    public var workers: Int
    /// The study name the file asks for, if any (else the file's base name).
    public var name: String?
    /// The hypervolume reference point the file fixes, in the objectives' own units (else one is
    /// chosen from the first trials).
    public var referencePoint: [Double]?
    /// A run stops (exit 1) after this many failed trials in a row while none has succeeded:
    /// a missing script or a broken space fails every trial, and the budget should not be spent
    /// finding that out. 0 never stops.
    public var maxConsecutiveFailures = 5
    /// How many times a trial that went STALE (its worker lost) is run again under a new number;
    /// after that it stays STALE. Decided in the store by whichever worker finds the trial stale,
    /// so every worker of a study uses the one stored with it.
    public var maxRetries = 3
    /// Whether the study keeps its front members' trained weights (read when a run starts; it
    /// shapes no trial, so a study may resume with another setting).
    public var keepWeights = WeightKeeping.default
    /// The space document as read, with the settings changed on the command line written into
    /// it: what a study stores, and what later commands read its spec from.
    public var document: JSONValue = .null
    /// What reading the file changed that the user should hear of (a meta study's precision
    /// options the device has no units for, left out).
    public var notes: [String] = []
    /// Where the spec was read from (the space file's path), for error messages.
    public var source: String = "space"
    /// A command study's mapping of its parameters onto DeepSpeed and Accelerate settings.
    public var export: ExportMapping?

    public init(space: SearchSpace, evaluator: EvaluatorSpec, objectives: [Objective], constraints: [MetricConstraint] = [],
                strategy: StrategySpec, earlyStopping: EarlyStoppingSpec? = nil, budget: Budget, seed: UInt64,
                workers: Int = 1, name: String? = nil) {
        self.space = space; self.evaluator = evaluator; self.objectives = objectives; self.constraints = constraints
        self.strategy = strategy; self.earlyStopping = earlyStopping; self.budget = budget; self.seed = seed
        self.workers = workers; self.name = name
    }
}

// MARK: - Names, overrides and resuming

extension StudySpec {
    /// The rule for study names, on the command line and in a space file alike: 1 to 128 ASCII
    /// letters, digits, `-`, `_` and `.` (a name becomes a folder name and a database key).
    public static func checkName(_ name: String) throws {
        if name.isEmpty { throw ConfigError(keyPath: "name", reason: "must not be empty") }
        let allowed = { (c: Unicode.Scalar) in
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_" || c == "."
        }
        guard name.unicodeScalars.allSatisfy(allowed), name != ".", name != ".." else {
            throw ConfigError(keyPath: "name", reason: "may hold only ASCII letters, digits, '-', '_' and '.', got '\(name)'")
        }
        guard name.count <= 128 else { throw ConfigError(keyPath: "name", reason: "may hold at most 128 characters, got \(name.count)") }
    }

    /// Settings the command line may change for one run.
    public struct Overrides: Equatable, Sendable {
        public var strategy: String?
        public var trials: Int?
        public var seed: UInt64?
        public var workers: Int?
        public init(strategy: String? = nil, trials: Int? = nil, seed: UInt64? = nil, workers: Int? = nil) {
            self.strategy = strategy; self.trials = trials; self.seed = seed; self.workers = workers
        }
    }

    /// This spec with `overrides` applied, as typed settings (a strategy named on the command line
    /// takes its default options), and the document written to match.
    public func applying(_ overrides: Overrides) throws -> StudySpec {
        var spec = self
        var members = document.members ?? []
        func set(_ key: String, _ value: JSONValue) {
            if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append(.init(key, value)) }
        }
        if let name = overrides.strategy, name != strategy.name {
            guard StrategyFactory.names.contains(name) else {
                throw ConfigError.unknownName(name, kind: "strategy", among: StrategyFactory.names, keyPath: "strategy")
            }
            spec.strategy = StrategySpec(name: name)
            if name == "grid" { try SpaceFile.checkFinite(space) }
            set("strategy", .string(name))
        }
        if let trials = overrides.trials {
            spec.budget.trials = trials
            var b: [JSONValue.Member] = [.init("trials", .number(Double(trials)))]
            if let s = budget.seconds { b.append(.init("minutes", .number(s / 60))) }
            set("budget", .object(b))
        }
        if let seed = overrides.seed {
            spec.seed = seed
            set("seed", .number(Double(seed)))
        }
        if let workers = overrides.workers {
            spec.workers = workers
            set("workers", .number(Double(workers)))
        }
        spec.document = .object(members)
        return spec
    }

    /// What differs from `stored` among the settings that shape a study's trials, one phrase per
    /// setting ("strategy changed from evolution to nsga2"); empty when it may resume.
    public func changes(from stored: StudySpec) -> [String] {
        var out: [String] = []
        func changed(_ what: String, _ old: String, _ new: String) { out.append("\(what) changed from \(old) to \(new)") }
        if stored.space != space {
            let old = Dictionary(stored.space.dimensions.map { ($0.name, $0.domain) }, uniquingKeysWith: { a, _ in a })
            let new = Dictionary(space.dimensions.map { ($0.name, $0.domain) }, uniquingKeysWith: { a, _ in a })
            var parts: [String] = []
            let added = space.dimensions.map(\.name).filter { old[$0] == nil }
            let removed = stored.space.dimensions.map(\.name).filter { new[$0] == nil }
            let altered = space.dimensions.map(\.name).filter { old[$0] != nil && old[$0] != new[$0] }
            if !added.isEmpty { parts.append("added \(Set(added).sorted().joined(separator: ", "))") }
            if !removed.isEmpty { parts.append("removed \(Set(removed).sorted().joined(separator: ", "))") }
            if !altered.isEmpty { parts.append("changed \(Set(altered).sorted().joined(separator: ", "))") }
            out.append("space changed" + (parts.isEmpty ? " (its fixed values)" : " (" + parts.joined(separator: "; ") + ")"))
        }
        if stored.evaluator != evaluator {
            stored.evaluator.name == evaluator.name ? out.append("evaluator \(evaluator.name) settings changed")
                                                    : changed("evaluator", stored.evaluator.name, evaluator.name)
        }
        func list(_ o: [Objective]) -> String { o.map { "\($0.metric) (\($0.direction.rawValue))" }.joined(separator: ", ") }
        if stored.objectives != objectives { changed("objectives", list(stored.objectives), list(objectives)) }
        func bounds(_ c: [MetricConstraint]) -> String {
            c.isEmpty ? "none" : c.map { "\($0.metric) \($0.relation.rawValue) \(JSONValue.format($0.bound))" }.joined(separator: ", ")
        }
        if stored.constraints != constraints { changed("constraints", bounds(stored.constraints), bounds(constraints)) }
        if stored.strategy.name != strategy.name { changed("strategy", stored.strategy.name, strategy.name) }
        else if stored.strategy != strategy { changed("strategy options", stored.strategy.options.compactText, strategy.options.compactText) }
        if stored.earlyStopping != earlyStopping {
            let old = stored.earlyStopping?.kind.rawValue ?? "none", new = earlyStopping?.kind.rawValue ?? "none"
            old == new ? out.append("early_stopping \(new) settings changed") : changed("early_stopping", old, new)
        }
        if stored.seed != seed { changed("seed", String(stored.seed), String(seed)) }
        return out
    }

    /// What `"strategy": "auto"` chooses for this spec, with the reason; nil for a named strategy.
    public var autoStrategy: (name: String, reason: String)? {
        strategy.name == "auto" ? AutoStrategy.choose(space: space, objectives: objectives.count, budget: budget.trials) : nil
    }

    /// Builds the strategy and early stopping once, so that options neither accepts are an error
    /// before anything is stored (the space file's own errors are found when it is read).
    public func checkParts() throws {
        _ = try makeStrategy()
        _ = try makeEarlyStopping()
    }

    /// The strategy the spec names, with its options, seeded by the spec's seed.
    public func makeStrategy() throws -> Strategy {
        do {
            return try StrategyFactory.make(strategy, space: space, objectives: objectives.count, seed: seed, budget: budget.trials)
        } catch let e as ConfigError {
            throw InputFileError(file: source, reason: e.description)
        }
    }

    /// A factory for the spec's early stopping (nil without one): several workers rebuild it from
    /// everyone's learning curves.
    public func makeEarlyStopping() throws -> (() throws -> EarlyStopping)? {
        guard let es = earlyStopping else { return nil }
        var maxResource = es.maxResource
        if maxResource == nil, case .engine(_, let epochs) = evaluator { maxResource = epochs }
        guard let maxResource else {
            throw InputFileError(file: source, reason: "early_stopping.max_resource: needed when the evaluator has no epoch budget (evaluator.engine.epochs)")
        }
        let count = objectives.count, seed = seed
        do {
            _ = try EarlyStoppingFactory.make(es, maxResource: maxResource, objectives: count, seed: seed)
        } catch let e as ConfigError {
            throw InputFileError(file: source, reason: e.description)
        }
        return { try EarlyStoppingFactory.make(es, maxResource: maxResource, objectives: count, seed: seed) }
    }

    /// The profiles the study's `metric@profile` objectives and constraints name, each once
    /// (`host` is measured when the study runs and names no profile).
    public func hardwareProfiles() throws -> [(name: String, profile: HardwareProfile)] {
        var result: [(name: String, profile: HardwareProfile)] = []
        for metric in objectives.map(\.metric) + constraints.map(\.metric) {
            guard let (_, name) = SpaceFile.hardwareMetric(metric), !result.contains(where: { $0.name == name }) else { continue }
            result.append((name, try ProfileLibrary.profile(named: name)))
        }
        return result
    }
}
