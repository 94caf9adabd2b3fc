import Engine

extension SearchSpace {
    /// The dimensions' names made unique: a name two dimensions share gets the option it lives
    /// under inserted after its parent's key path (`training.optimizer[sgd].lr`). What plots and
    /// parameter importance call each dimension.
    public var uniqueNames: [String] {
        let names = dimensions.map(\.name)
        let counts = Dictionary(names.map { ($0, 1) }, uniquingKeysWith: +)
        return dimensions.map { d in
            guard counts[d.name, default: 0] > 1, let c = d.condition else { return d.name }
            let parent = dimensions[c.parent]
            var option = "\(c.option)"
            if case .choice(let options) = parent.domain, c.option < options.count { option = Self.optionLabel(options[c.option]) }
            if d.name.hasPrefix(parent.name + ".") {
                return parent.name + "[\(option)]" + d.name.dropFirst(parent.name.count)
            }
            return d.name + "[\(option)]"
        }
    }

    /// How one option of a choice reads: a string as itself, an object by its `name` or `_name`,
    /// anything else as compact JSON.
    public static func optionLabel(_ v: JSONValue) -> String {
        if case .string(let s) = v { return s }
        for key in ["name", "_name"] { if case .string(let s)? = v[key] { return s } }
        return v.compactText
    }
}
