import Engine

/// How a command study's parameters become a training framework's settings: the space file's
/// optional `export` section.
///
///     "export": {
///       "deepspeed": {"base": {"train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1},
///                     "map": {"lr": "optimizer.params.lr", "zero": "zero_optimization.stage"}},
///       "accelerate": {"base": {"distributed_type": "MULTI_GPU", "num_processes": 8},
///                      "map": {"precision": "mixed_precision"}}
///     }
///
/// `base` holds fixed settings; `map` sends a parameter (its last key or full key path, as a run
/// command's placeholders name it) to a dotted key path, where the trial's value is written.
public struct ExportMapping: Hashable, Sendable {
    public struct Target: Hashable, Sendable {
        /// Fixed settings, an object.
        public var base: JSONValue
        /// Parameter (full key path) → dotted key path, in the order written.
        public var map: [Entry]
        public init(base: JSONValue = .object([JSONValue.Member]()), map: [Entry] = []) { self.base = base; self.map = map }
    }

    public struct Entry: Hashable, Sendable {
        /// The parameter's full key path.
        public var parameter: String
        /// Where its value goes: `optimizer.params.lr`.
        public var key: String
        public init(parameter: String, key: String) { self.parameter = parameter; self.key = key }
    }

    public var deepspeed: Target?
    public var accelerate: Target?
    public init(deepspeed: Target? = nil, accelerate: Target? = nil) { self.deepspeed = deepspeed; self.accelerate = accelerate }

    /// The two targets by their section names.
    public static let targets = ["deepspeed", "accelerate"]

    public func target(_ name: String) -> Target? { name == "deepspeed" ? deepspeed : name == "accelerate" ? accelerate : nil }
}

extension SpaceFile {
    /// The `export` section of a command study over `space`: its shape, and every parameter it
    /// maps named unambiguously. Whether a key exists in DeepSpeed's or Accelerate's schema is
    /// checked where those schemas live (`autotune search` checks it before the first trial).
    static func exportMapping(_ value: JSONValue, space: SearchSpace) throws -> ExportMapping {
        let members = try object(value, at: "export")
        try checkKeys(members, allowed: ExportMapping.targets, at: "export", owner: "the export section")
        var names: [String] = []
        for d in space.dimensions where !names.contains(d.name) { names.append(d.name) }
        func target(_ name: String) throws -> ExportMapping.Target? {
            guard let value = optional(members, name) else { return nil }
            let path = "export." + name
            let parts = try object(value, at: path)
            try checkKeys(parts, allowed: ["base", "map"], at: path, owner: "an export target")
            var t = ExportMapping.Target()
            if let base = optional(parts, "base") {
                _ = try object(base, at: path + ".base")
                t.base = base
            }
            if let map = optional(parts, "map") {
                for entry in try object(map, at: path + ".map") {
                    let at = path + ".map." + entry.key
                    let key = try string(entry.value, at: at)
                    guard !key.isEmpty, !key.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
                        throw ConfigError(keyPath: at, reason: "'\(key)' is not a dotted key path such as optimizer.params.lr")
                    }
                    guard let parameter = resolvePlaceholder(entry.key, among: names) else {
                        var reason = "'\(entry.key)' names no parameter of the space"
                        let same = names.filter { lastKey($0) == entry.key }
                        if same.count > 1 {
                            reason = "'\(entry.key)' is ambiguous (\(same.joined(separator: ", "))); write the full key path"
                        } else if let near = closestMatch(to: entry.key, among: names + names.map(lastKey)) {
                            reason += ". Did you mean '\(near)'?"
                        }
                        throw ConfigError(keyPath: at, reason: reason)
                    }
                    if let twice = t.map.first(where: { $0.key == key }) {
                        throw ConfigError(keyPath: at, reason: "'\(key)' is already set from \(twice.parameter)")
                    }
                    t.map.append(ExportMapping.Entry(parameter: parameter, key: key))
                }
            }
            return t
        }
        return ExportMapping(deepspeed: try target("deepspeed"), accelerate: try target("accelerate"))
    }
}
