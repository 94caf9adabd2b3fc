/// A string-valued choice in a config file (an activation, a pooling kind...). Decoding an unknown
/// name throws a `ConfigError` at its key path listing the valid names, with a suggestion.
public protocol NamedChoice: RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension NamedChoice {
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw ConfigError.unknownName(name, kind: "value", among: Self.allCases.map(\.rawValue), keyPath: decoder.keyPath)
        }
        self = value
    }
}

extension ActivationKind: NamedChoice {}
extension NormKind: NamedChoice {}
extension PoolKind: NamedChoice {}
