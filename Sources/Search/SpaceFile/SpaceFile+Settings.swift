import Engine
import Hardware

/// The study settings of a space file: objectives, constraints, strategy, early stopping, budget,
/// seed, workers and name.
extension SpaceFile {
    /// `objectives`: `[{"metric": M, "direction": D}, ...]` or `{"M": "D", ...}`. `metrics` are
    /// the names the evaluator reports, when it has a fixed set.
    static func objectives(_ value: JSONValue, metrics: [String]?) throws -> [Objective] {
        var parsed: [(objective: Objective, path: String)] = []
        func direction(_ value: JSONValue, at path: String) throws -> Objective.Direction {
            let name = try string(value, at: path)
            guard let d = Objective.Direction(rawValue: name) else {
                throw ConfigError.unknownName(name, kind: "direction", among: Objective.Direction.allCases.map(\.rawValue), keyPath: path)
            }
            return d
        }
        switch value {
        case .object(let members):
            for member in members {
                let path = "objectives." + member.key
                parsed.append((Objective(member.key, try direction(member.value, at: path)), path))
            }
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                let path = "objectives[\(i)]"
                let members = try object(element, at: path)
                try checkKeys(members, allowed: ["metric", "direction"], at: path, owner: "an objective")
                let metric = try string(try required(members, "metric", at: path), at: path + ".metric")
                let d = try direction(try required(members, "direction", at: path), at: path + ".direction")
                parsed.append((Objective(metric, d), path + ".metric"))
            }
        default:
            throw ConfigError(keyPath: "objectives", reason: "expected an array or an object, got \(value.kindName)")
        }
        if parsed.isEmpty { throw ConfigError(keyPath: "objectives", reason: "needs at least one objective") }
        for (k, entry) in parsed.enumerated() {
            try checkMetric(entry.objective.metric, at: entry.path, metrics: metrics)
            if parsed[..<k].contains(where: { $0.objective.metric == entry.objective.metric }) {
                throw ConfigError(keyPath: entry.path, reason: "duplicate objective '\(entry.objective.metric)'")
            }
        }
        return parsed.map(\.objective)
    }

    /// A metric name the evaluator reports (any non-empty name when `metrics` is nil).
    private static func checkMetric(_ metric: String, at path: String, metrics: [String]?) throws {
        if metric.isEmpty { throw ConfigError(keyPath: path, reason: "the metric name is empty") }
        if metrics == engineMetrics, let (base, profile) = hardwareMetric(metric) {
            let names = MetricCatalogue.hardware.map(\.name)
            guard names.contains(base) else {
                throw ConfigError.unknownName(base, kind: "hardware metric", among: names, keyPath: path)
            }
            try resolveProfile(profile, at: path)
            return
        }
        if let metrics, !metrics.contains(metric) {
            throw ConfigError.unknownName(metric, kind: "metric", among: metrics, keyPath: path)
        }
    }

    /// `latency_ms@jetson-orin-nano` as ("latency_ms", "jetson-orin-nano"); nil without an `@`.
    public static func hardwareMetric(_ metric: String) -> (base: String, profile: String)? {
        guard let at = metric.firstIndex(of: "@") else { return nil }
        return (String(metric[..<at]), String(metric[metric.index(after: at)...]))
    }

    /// The profile a metric's `@NAME` names: a built-in name, `host`, or a profile file.
    @discardableResult
    public static func resolveProfile(_ name: String, at path: String) throws -> HardwareProfile? {
        if name.lowercased() == ProfileLibrary.hostName { return nil }   // measured when the study runs
        do {
            return try ProfileLibrary.profile(named: name)
        } catch let e as ConfigError {
            throw ConfigError(keyPath: path, reason: e.reason)
        } catch let e as InputFileError {
            throw ConfigError(keyPath: path, reason: e.description)
        }
    }

    /// `constraints`: `[{"metric": M, "<=": bound}, {"metric": M, ">=": bound}, ...]`.
    static func constraints(_ value: JSONValue, metrics: [String]?) throws -> [MetricConstraint] {
        var result: [MetricConstraint] = []
        for (i, element) in try array(value, at: "constraints").enumerated() {
            let path = "constraints[\(i)]"
            let members = try object(element, at: path)
            try checkKeys(members, allowed: ["metric", "<=", ">="], at: path, owner: "a constraint")
            let metric = try string(try required(members, "metric", at: path), at: path + ".metric")
            try checkMetric(metric, at: path + ".metric", metrics: metrics)
            let bounds = members.filter { $0.key != "metric" }
            guard bounds.count == 1, let bound = bounds.first, let relation = MetricConstraint.Relation(rawValue: bound.key) else {
                throw ConfigError(keyPath: path, reason: "needs exactly one bound, '<=' or '>=', got \(bounds.count)")
            }
            result.append(MetricConstraint(metric, relation, try number(bound.value, at: "\(path).\(bound.key)")))
        }
        return result
    }

    /// `strategy`: a name or `{"name": N, ...options}`.
    static func strategy(_ value: JSONValue) throws -> StrategySpec {
        func named(_ name: String, at path: String) throws -> String {
            guard StrategyFactory.names.contains(name) else {
                throw ConfigError.unknownName(name, kind: "strategy", among: StrategyFactory.names, keyPath: path)
            }
            return name
        }
        switch value {
        case .string(let name):
            return StrategySpec(name: try named(name, at: "strategy"))
        case .object(let members):
            let name = try string(try required(members, "name", at: "strategy"), at: "strategy.name")
            return StrategySpec(name: try named(name, at: "strategy.name"), options: .object(members.filter { $0.key != "name" }))
        default:
            throw ConfigError(keyPath: "strategy", reason: "expected a name or an object with a name, got \(value.kindName)")
        }
    }

    /// `early_stopping`: `{"name": "successive_halving"|"hyperband", "min_resource": 1,
    /// "max_resource": N, "reduction_factor": 3}`.
    static func earlyStopping(_ value: JSONValue) throws -> EarlyStoppingSpec {
        let path = "early_stopping"
        let members = try object(value, at: path)
        try checkKeys(members, allowed: ["name", "min_resource", "max_resource", "reduction_factor"], at: path, owner: path)
        let name = try string(try required(members, "name", at: path), at: path + ".name")
        guard let kind = EarlyStoppingSpec.Kind(rawValue: name) else {
            throw ConfigError.unknownName(name, kind: "early stopping", among: EarlyStoppingSpec.Kind.allCases.map(\.rawValue), keyPath: path + ".name")
        }
        let minimum = try optional(members, "min_resource").map { try integer($0, at: path + ".min_resource", atLeast: 1) } ?? 1
        let maximum = try optional(members, "max_resource").map { try integer($0, at: path + ".max_resource", atLeast: 1) }
        if let maximum, maximum < minimum {
            throw ConfigError(keyPath: path + ".max_resource", reason: "must be ≥ min_resource (\(minimum)), got \(maximum)")
        }
        let eta = try optional(members, "reduction_factor").map { try integer($0, at: path + ".reduction_factor", atLeast: 2) } ?? 3
        return EarlyStoppingSpec(kind: kind, minResource: minimum, maxResource: maximum, reductionFactor: eta)
    }

    /// `budget`: a number of trials, or `{"trials": N, "minutes": M}` with at least one.
    static func budget(_ value: JSONValue) throws -> Budget {
        switch value {
        case .number:
            return Budget(trials: try integer(value, at: "budget", atLeast: 1))
        case .object(let members):
            try checkKeys(members, allowed: ["trials", "minutes"], at: "budget", owner: "budget")
            let trials = try optional(members, "trials").map { try integer($0, at: "budget.trials", atLeast: 1) }
            let minutes = try optional(members, "minutes").map { try positiveNumber($0, at: "budget.minutes") }
            if trials == nil && minutes == nil { throw ConfigError(keyPath: "budget", reason: "needs trials, minutes or both") }
            return Budget(trials: trials, seconds: minutes.map { $0 * 60 })
        default:
            throw ConfigError(keyPath: "budget", reason: "expected a number of trials or an object with trials and/or minutes, got \(value.kindName)")
        }
    }

    /// `seed`: an integer in 0...2^53.
    static func seed(_ value: JSONValue) throws -> UInt64 {
        UInt64(try integer(value, at: "seed", atLeast: 0))
    }

    /// `workers`: an integer ≥ 1.
    static func workers(_ value: JSONValue) throws -> Int {
        try integer(value, at: "workers", atLeast: 1)
    }

    /// `keep_weights`: `true`, `false`, or `{"max_mib": N}` with N ≥ 1 (MiB of kept files at most).
    static func keepWeights(_ value: JSONValue) throws -> WeightKeeping {
        switch value {
        case .bool(let on):
            return on ? .default : .off
        case .object(let members):
            try checkKeys(members, allowed: ["max_mib"], at: "keep_weights", owner: "keep_weights")
            let mib = try integer(try required(members, "max_mib", at: "keep_weights"), at: "keep_weights.max_mib", atLeast: 1)
            guard mib <= 1 << 30 else {
                throw ConfigError(keyPath: "keep_weights.max_mib", reason: "must be at most \(1 << 30) MiB, got \(mib)")
            }
            return .upTo(bytes: mib << 20)
        default:
            throw ConfigError(keyPath: "keep_weights", reason: "expected true, false or {\"max_mib\": N}, got \(value.kindName)")
        }
    }

    /// `name`: the study name rule (`StudySpec.checkName`).
    static func studyName(_ value: JSONValue) throws -> String {
        let name = try string(value, at: "name")
        try StudySpec.checkName(name)
        return name
    }
}
