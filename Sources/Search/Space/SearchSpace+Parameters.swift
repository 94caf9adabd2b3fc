import Engine
import Store

extension SearchSpace {
    /// The stored form of a configuration's active parameters: key path, exact internal value
    /// (option index, integer or real) and the value as JSON text.
    public func parameterRecords(_ configuration: Configuration) -> [ParameterRecord] {
        activeDimensions(in: configuration).map { i in
            let v = configuration.values[i]
            return ParameterRecord(name: dimensions[i].name, value: v, json: dimensions[i].domain.json(v).compactText)
        }
    }

    /// Rebuild a configuration from stored parameters (a resumed study, another worker's trial).
    /// Dimensions are visited in order, so of two mutually exclusive dimensions with one name the
    /// active one takes the value; inactive dimensions sit at the middle of their domain.
    /// - Throws: `EvaluationError` when an active dimension has no stored value or one outside
    ///   its domain (the study's space changed under it).
    public func configuration(from records: [ParameterRecord]) throws -> Configuration {
        var byName: [String: Double] = [:]
        for r in records { byName[r.name] = r.value }
        var c = Configuration(dimensions.map { $0.domain.value(atUnit: 0.5) })
        for (i, d) in dimensions.enumerated() where isActive(i, in: c) {
            guard let v = byName[d.name] else { throw EvaluationError("stored trial has no value for '\(d.name)'") }
            guard d.domain.contains(v) else { throw EvaluationError("stored value \(JSONValue.format(v)) of '\(d.name)' is outside its domain") }
            c.values[i] = v
        }
        return c
    }
}
