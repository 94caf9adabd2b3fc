import Engine

/// Turns a space file's candidate sections into a `SearchSpace`: distributions become dimensions
/// (numbered depth-first in document order, a choice before the dimensions inside its options),
/// everything else stays fixed.
///
///     {"training": {"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}, "epochs": 3}}
///     // one dimension "training.lr"; template {"training": {"lr": <0>, "epochs": 3}}
struct SpaceTemplateBuilder {
    private(set) var dimensions: [Dimension] = []

    /// Where a value sits: its key path in the file (for errors), the key path it takes in the
    /// candidate (for dimension names), the condition its dimensions carry, and the object a
    /// named option of a choice here would merge its fields into.
    struct Place {
        var file: String
        var name: String
        var condition: Dimension.Condition?
        var enclosure: Enclosure
    }

    /// The object holding a value as a field, or why there is none to merge named options into.
    enum Enclosure {
        case object(name: String, keys: [String])
        case none(String)
    }

    /// The template of the sections, in document order, as the candidate's top-level object.
    mutating func build(sections: [JSONValue.Member]) throws -> SearchSpace {
        var fields: [SpaceNode.Field] = []
        for section in sections {
            let place = Place(file: section.key, name: section.key, condition: nil,
                              enclosure: .none("a whole section has no enclosing object"))
            fields.append(.init(section.key, try node(section.value, place)))
        }
        return SearchSpace(dimensions: dimensions, template: .object(fields))
    }

    private mutating func node(_ value: JSONValue, _ place: Place) throws -> SpaceNode {
        switch value {
        case .object(let members):
            if members.contains(where: { $0.key == "_type" }) { return try distribution(members, place) }
            if members.contains(where: { $0.key == "_value" }) {
                throw ConfigError(keyPath: place.file, reason: "has '_value' but no '_type' (a distribution needs both)")
            }
            if members.contains(where: { $0.key == "_name" }) {
                throw ConfigError(keyPath: place.file + "._name", reason: "'_name' marks an option of a choice; this object is not one")
            }
            let keys = members.map(\.key)
            var fields: [SpaceNode.Field] = []
            var mergedBy: [String: String] = [:]   // key a named option sets → the choice's file path
            for member in members {
                let file = ConfigError.join(place.file, member.key)
                let child = try node(member.value, Place(file: file, name: ConfigError.join(place.name, member.key),
                                                         condition: place.condition,
                                                         enclosure: .object(name: place.name, keys: keys)))
                if case .decision(_, _, let merged) = child {
                    for key in Set(merged.flatMap { $0.map(\.key) }).sorted() {
                        if let other = mergedBy[key] {
                            throw ConfigError(keyPath: file, reason: "its named options set '\(key)', which the named options of \(other) also set")
                        }
                        mergedBy[key] = file
                    }
                }
                fields.append(.init(member.key, child))
            }
            return Self.collapse(.object(fields), value)
        case .array(let elements):
            var nodes: [SpaceNode] = []
            for (i, element) in elements.enumerated() {
                nodes.append(try node(element, Place(file: "\(place.file)[\(i)]", name: "\(place.name)[\(i)]", condition: place.condition,
                                                     enclosure: .none("this choice is an element of an array"))))
            }
            return Self.collapse(.array(nodes), value)
        default:
            return .constant(value)
        }
    }

    /// A node whose parts are all fixed is the fixed value itself.
    private static func collapse(_ node: SpaceNode, _ value: JSONValue) -> SpaceNode {
        switch node {
        case .object(let fields): return fields.allSatisfy(\.node.isConstant) ? .constant(value) : node
        case .array(let nodes): return nodes.allSatisfy(\.isConstant) ? .constant(value) : node
        default: return node
        }
    }

    private mutating func distribution(_ members: [JSONValue.Member], _ place: Place) throws -> SpaceNode {
        try SpaceFile.checkKeys(members, allowed: ["_type", "_value"], at: place.file, owner: "a distribution")
        let typeName = try SpaceFile.string(try SpaceFile.required(members, "_type", at: place.file), at: place.file + "._type")
        guard let kind = DistributionKind(rawValue: typeName) else {
            throw ConfigError.unknownName(typeName, kind: "distribution", among: DistributionKind.allCases.map(\.rawValue),
                                          keyPath: place.file + "._type")
        }
        let valuePath = place.file + "._value"
        let arguments = try SpaceFile.array(try SpaceFile.required(members, "_value", at: place.file), at: valuePath)
        if kind == .choice { return try choice(arguments, place) }
        guard arguments.count == kind.arity else {
            throw ConfigError(keyPath: valuePath, reason: "expected \(kind.arity) numbers, got \(arguments.count)")
        }
        var numbers: [Double] = []
        for (i, argument) in arguments.enumerated() { numbers.append(try SpaceFile.number(argument, at: "\(valuePath)[\(i)]")) }
        let domain = try kind.domain(numbers, at: valuePath)
        dimensions.append(Dimension(name: place.name, domain: domain, condition: place.condition))
        return .decision(index: dimensions.count - 1, options: [], merged: [])
    }

    /// A choice: the dimension first, then the dimensions inside its options, each conditional on
    /// this choice taking that option.
    private mutating func choice(_ options: [JSONValue], _ place: Place) throws -> SpaceNode {
        let valuePath = place.file + "._value"
        guard !options.isEmpty else { throw ConfigError(keyPath: valuePath, reason: "choice needs at least one option") }
        let index = dimensions.count
        dimensions.append(Dimension(name: place.name, domain: .choice(options: []), condition: place.condition))
        var nodes: [SpaceNode] = [], merged: [[SpaceNode.Field]] = [], labels: [JSONValue] = []
        for (k, option) in options.enumerated() {
            let file = "\(valuePath)[\(k)]"
            let condition = Dimension.Condition(parent: index, option: k)
            if let members = option.members, let name = option["_name"] {
                merged.append(try namedOption(members, name: name, file: file, condition: condition, enclosure: place.enclosure))
                nodes.append(.constant(name))
            } else {
                nodes.append(try node(option, Place(file: file, name: place.name, condition: condition,
                                                    enclosure: .none("this choice is itself an option of a choice"))))
                merged.append([])
            }
            let label = SpaceFile.label(option)
            if labels.contains(label) { throw ConfigError(keyPath: file, reason: "duplicate option \(label.compactText)") }
            labels.append(label)
        }
        dimensions[index].domain = .choice(options: labels)
        let named = options.contains { $0.members != nil && $0["_name"] != nil }
        return .decision(index: index, options: nodes, merged: named ? merged : [])
    }

    /// A `{"_name": N, key: value, ...}` option: its fields, to merge into the enclosing object.
    private mutating func namedOption(_ members: [JSONValue.Member], name: JSONValue, file: String,
                                      condition: Dimension.Condition, enclosure: Enclosure) throws -> [SpaceNode.Field] {
        switch name {
        case .string, .number: break
        default: throw ConfigError(keyPath: file + "._name", reason: "expected a string or a number, got \(name.kindName)")
        }
        let holder: String, siblings: [String]
        switch enclosure {
        case .object(let name, let keys): (holder, siblings) = (name, keys)
        case .none(let why):
            throw ConfigError(keyPath: file + "._name", reason: "a named option merges its fields into the object holding the choice; \(why)")
        }
        var fields: [SpaceNode.Field] = []
        for member in members where member.key != "_name" {
            let path = ConfigError.join(file, member.key)
            if member.key == "_type" || member.key == "_value" {
                throw ConfigError(keyPath: path, reason: "a named option cannot also be a distribution")
            }
            if siblings.contains(member.key) {
                throw ConfigError(keyPath: path, reason: "clashes with the field '\(member.key)' of \(holder)")
            }
            let child = try node(member.value, Place(file: path, name: ConfigError.join(holder, member.key), condition: condition,
                                                     enclosure: .none("this choice is itself a field of a named option")))
            fields.append(.init(member.key, child))
        }
        return fields
    }
}

fileprivate extension SpaceNode {
    var isConstant: Bool { if case .constant = self { return true } else { return false } }
}
