import Engine
import Foundation

/// Finds a hardware profile by what a user types: a built-in name, `host`, or a profile file.
///
///     let a100 = try ProfileLibrary.profile(named: "a100-sxm-80gb")     // case does not matter
///     let mine = try ProfileLibrary.profile(named: "profiles/cluster.json")
///     let here = try ProfileLibrary.profile(named: "host")              // measured, < 1 s
public enum ProfileLibrary {
    /// The name that stands for the machine autotune runs on, measured by `HostCalibration`.
    public static let hostName = "host"

    /// The built-in profiles, decoded once, in the order `autotune hardware list` shows them.
    public static let builtIn: [HardwareProfile] = BuiltinProfiles.documents.map(decodeBuiltIn)

    /// The built-in names in order, then `host`: every name `profile(named:)` accepts.
    public static var names: [String] { builtIn.map(\.name) + [hostName] }

    /// The profile `name` stands for.
    ///
    /// - Parameters:
    ///   - name: a built-in name (any case), `host`, or the path of a profile file (anything
    ///     ending in `.json` or containing `/`).
    ///   - calibrateHost: gives the `host` profile; by default the cached `HostCalibration.profile`.
    /// - Returns: the profile.
    /// - Throws: `InputFileError` naming the file and key path for a bad file; `ConfigError` for
    ///   an unknown name, listing the valid ones with the closest as a suggestion.
    public static func profile(named name: String,
                               calibrateHost: () -> HardwareProfile = { HostCalibration.profile }) throws -> HardwareProfile {
        if isPath(name) { return try loadJSONConfig(HardwareProfile.self, path: name) }
        if name.lowercased() == hostName { return calibrateHost() }
        if let found = builtIn.first(where: { $0.name.lowercased() == name.lowercased() }) { return found }
        // A family name ("a100") suggests its first profile; otherwise the nearest by edit distance.
        if let family = builtIn.first(where: { $0.name.lowercased().hasPrefix(name.lowercased()) }) {
            throw ConfigError(keyPath: "", reason: "unknown hardware profile '\(name)' (valid: \(names.joined(separator: ", "))). Did you mean '\(family.name)'?")
        }
        throw ConfigError.unknownName(name, kind: "hardware profile", among: names, keyPath: "")
    }

    /// Whether `name` is meant as a file rather than a profile's name.
    public static func isPath(_ name: String) -> Bool {
        name.hasSuffix(".json") || name.contains("/")
    }

    /// A built-in document through the user-file decoder; one that does not decode is a bug in
    /// this library (the tests decode every one), so it stops the program with the reason.
    static func decodeBuiltIn(_ json: String) -> HardwareProfile {
        do {
            return try decodeJSONConfig(HardwareProfile.self, from: Data(json.utf8), file: "built-in hardware profile")
        } catch {
            preconditionFailure("\(error)")
        }
    }
}
