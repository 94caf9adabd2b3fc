import Engine

/// The distributions a space file may write as `{"_type": T, "_value": [...]}`, with NNI's names
/// and argument lists (NNI search-space specification).
enum DistributionKind: String, CaseIterable {
    case choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal

    /// How many numbers `_value` holds (choices take any non-empty list instead).
    var arity: Int {
        switch self {
        case .choice: return 0
        case .randint, .uniform, .loguniform, .normal, .lognormal: return 2
        case .quniform, .qloguniform, .qnormal, .qlognormal: return 3
        }
    }

    /// The domain of a numeric distribution from its `_value` numbers (already counted), checking
    /// its bounds. `path` is the `_value` key path.
    ///
    ///     DistributionKind.randint.domain([2, 5], at: "x._value")      // .integer(lower: 2, upper: 4)
    ///     DistributionKind.loguniform.domain([0, 1], at: "x._value")   // throws: loguniform needs 0 < low < high, got [0, 1]
    func domain(_ v: [Double], at path: String) throws -> Domain {
        func fail(_ reason: String) -> ConfigError { ConfigError(keyPath: path, reason: "\(rawValue) needs \(reason)") }
        let got = SpaceFile.listText(Array(v.prefix(2)))
        func quantum() throws -> Double? {
            guard arity == 3 else { return nil }
            guard v[2] > 0 else { throw fail("q > 0, got \(JSONValue.format(v[2]))") }
            return v[2]
        }
        switch self {
        case .choice:
            preconditionFailure("choices are parsed option by option")
        case .randint:
            for (i, x) in v.enumerated() where x != x.rounded() {
                throw ConfigError(keyPath: "\(path)[\(i)]", reason: "expected an integer, got \(JSONValue.format(x))")
            }
            // The sampler draws an integer from a double in [0, 1): bounds and span must be exact doubles.
            let exact = SpaceFile.largestExactInteger
            for (i, x) in v.enumerated() where abs(x) > exact {
                throw ConfigError(keyPath: "\(path)[\(i)]", reason: "must be at most \(Int(exact)) in magnitude (the largest integer drawn exactly), got \(JSONValue.format(x))")
            }
            guard v[0] < v[1] else { throw fail("lower < upper, got \(got)") }
            guard v[1] - v[0] <= exact else {
                throw fail("upper − lower ≤ \(Int(exact)) (the most values drawn exactly), got \(got)")
            }
            return .integer(lower: Int(v[0]), upper: Int(v[1]) - 1)
        case .uniform, .quniform:
            guard v[0] < v[1] else { throw fail("low < high, got \(got)") }
            return .real(.init(.uniform(low: v[0], high: v[1]), q: try quantum()))
        case .loguniform, .qloguniform:
            guard v[0] > 0, v[0] < v[1] else { throw fail("0 < low < high, got \(got)") }
            return .real(.init(.uniform(low: v[0], high: v[1]), log: true, q: try quantum()))
        case .normal, .qnormal, .lognormal, .qlognormal:
            guard v[1] > 0 else { throw fail("sigma > 0, got \(JSONValue.format(v[1]))") }
            let log = self == .lognormal || self == .qlognormal
            return .real(.init(.normal(mean: v[0], deviation: v[1]), log: log, q: try quantum()))
        }
    }
}

extension SpaceFile {
    /// How a choice option is shown to people: the option itself, with every distribution in it
    /// written as text (`"loguniform(0.0001, 0.1)"`, `"choice(32, 64)"`) and a named option as its
    /// name. Deterministic, so equal options get equal labels.
    static func label(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            if let name = value["_name"] { return name }
            if let type = value["_type"]?.string {
                let arguments = value["_value"]?.elements ?? []
                let text = arguments.map { type == "choice" ? label($0).compactText : $0.compactText }
                return .string("\(type)(\(text.joined(separator: ", ")))")
            }
            return .object(members.map { JSONValue.Member($0.key, label($0.value)) })
        case .array(let elements):
            return .array(elements.map(label))
        default:
            return value
        }
    }
}
