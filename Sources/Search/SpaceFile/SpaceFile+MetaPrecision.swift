import Engine
import Hardware
import Parallel

extension SpaceFile {
    /// A meta study's `precision` section with the formats its device has no units for left out
    /// (an FP8 option on A100s, BF16 on V100s): such a plan would run no faster than a wider
    /// format, so trying it spends trials on plans the estimate would have to refuse. A user
    /// tuning on A100s with `["bf16", "fp8"]` searches BF16 and is told once why FP8 is not tried.
    /// The section is a format name, a choice of names, or an object with either under `format`.
    /// - Returns: the section (nil when there is none) and one note per format left out.
    /// - Throws: `ConfigError` at `precision` when no format the device has is left.
    static func metaPrecision(_ section: JSONValue?, profile: HardwareProfile) throws -> (section: JSONValue?, notes: [String]) {
        guard let section else { return (nil, []) }
        if case .object(var members) = section, section["_type"] == nil, let i = members.firstIndex(where: { $0.key == "format" }) {
            let (format, notes) = try formats(members[i].value, profile: profile, keyPath: "precision.format")
            members[i].value = format
            return (.object(members), notes)
        }
        return try formats(section, profile: profile, keyPath: "precision")
    }

    /// The formats of a name or a `choice` of names that the device has units for.
    private static func formats(_ value: JSONValue, profile: HardwareProfile, keyPath: String) throws -> (JSONValue, [String]) {
        func lacks(_ v: JSONValue) -> FloatFormat? {
            guard let name = v.string, let format = FloatFormat(rawValue: name), !profile.hasUnits(for: format) else { return nil }
            return format
        }
        if let format = lacks(value) {
            throw ConfigError(keyPath: keyPath, reason: ParallelPlan.lacking(format, on: profile))
        }
        guard value["_type"]?.string == "choice", case .object(var members) = value,
              let i = members.firstIndex(where: { $0.key == "_value" }), let options = members[i].value.elements else { return (value, []) }
        let lacking = options.compactMap(lacks)
        guard !lacking.isEmpty else { return (value, []) }
        let kept = options.filter { lacks($0) == nil }
        guard !kept.isEmpty else {
            throw ConfigError(keyPath: keyPath, reason: ParallelPlan.lacking(lacking[0], on: profile))
        }
        members[i].value = .array(kept)
        let notes = lacking.map { "\(keyPath): \($0.rawValue) left out of the search: " + ParallelPlan.lacking($0, on: profile) }
        return (.object(members), notes)
    }
}
