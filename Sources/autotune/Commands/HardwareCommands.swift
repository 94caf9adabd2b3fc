import Engine
import Foundation
import Hardware

/// `autotune hardware`: the hardware profiles the cost model turns traces into time and energy with.
struct HardwareCommand: Command {
    static let configuration = CommandConfiguration(
        name: "hardware",
        abstract: "List the hardware profiles, or show one with its sources and effective peaks.",
        subcommands: [HardwareListCommand.self, HardwareShowCommand.self])

    init(_ values: ParsedValues) throws {}
}

/// `autotune hardware list`: every built-in profile's headline figures, one row each.
struct HardwareListCommand: Command {
    static let configuration = CommandConfiguration(
        name: "list",
        abstract: "List the built-in hardware profiles with their peaks, memory, links and power.",
        options: [.json,
                  .flag("calibrate", help: "Also measure this machine (the host profile, under a second) and list it.")])

    var json: Bool
    var calibrate: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        calibrate = values.flag("calibrate")
    }

    /// The formats the table has a column for, in order.
    static let formats: [DType] = [.fp32, .tf32, .fp16, .bf16, .fp8, .int8]

    func run() throws -> Int32 {
        let profiles = ProfileLibrary.builtIn + (calibrate ? [HostCalibration.profile] : [])
        if json {
            try Output.printJSON(ProfileListing(profiles: profiles))
            return 0
        }
        let header = ["name", "kind"] + Self.formats.map(\.rawValue)
            + ["memory GiB", "bandwidth GB/s", "per node", "intra-node", "inter-node", "power W"]
        let rows = profiles.map { p -> [String] in
            [p.name, p.kind.rawValue] + Self.formats.map { p.peakTFLOPS[$0].map(figure) ?? "—" }
                + [figure(p.memoryGiB), figure(p.memoryBandwidthGBs), String(p.interconnect.devicesPerNode),
                   linkCell(p.interconnect.intraNode), linkCell(p.interconnect.interNode),
                   "\(figure(p.power.idle))–\(figure(p.power.peak))"]
        }
        print(alignedTable(header, rows))
        if !calibrate {
            // The host has no figures until it is measured: one row that says how, outside the
            // table's columns so it does not widen them.
            let nameWidth = ([header[0]] + rows.map { $0[0] }).map(\.count).max() ?? 0
            print(ProfileLibrary.hostName.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                  + "  cpu   measured on demand: 'autotune hardware show host', or 'autotune hardware list --calibrate'")
        }
        print("\nPeaks are dense TFLOP/s (TOPS for int8); — where a device has no units for the format.")
        print("Links: kind and GB/s per device and direction. 'autotune hardware show NAME' shows every field.")
        return 0
    }

    private func linkCell(_ link: HardwareProfile.Link?) -> String {
        link.map { "\($0.kind) \(figure($0.bandwidthGBs))" } ?? "—"
    }
}

/// `autotune hardware show NAME|FILE`: one profile, every field, its sources and effective peaks.
struct HardwareShowCommand: Command {
    static let configuration = CommandConfiguration(
        name: "show",
        abstract: "Show one hardware profile: every field, its sources, and the peak each format runs at.",
        arguments: [Argument("profile", valueName: "NAME|FILE",
                             help: "A built-in profile's name (any case), host (this machine, measured in under a second), or a profile JSON file.")],
        options: [.json])

    var name: String
    var json: Bool

    init(_ values: ParsedValues) throws {
        name = try values.argument("profile")
        json = values.flag("json")
    }

    func run() throws -> Int32 {
        let profile = try ProfileLibrary.profile(named: name)
        if json { try Output.printJSON(profile) } else { print(Self.text(profile)) }
        return 0
    }

    /// The profile as `field  value` lines, the effective peak of every format, then the sources.
    static func text(_ p: HardwareProfile) -> String {
        func link(_ l: HardwareProfile.Link?) -> String {
            guard let l else { return "—" }
            return "\(l.kind), \(figure(l.bandwidthGBs)) GB/s per direction, \(figure(l.latencyMicroseconds)) µs"
        }
        let e = p.efficiency, net = p.interconnect
        var fields: [(String, String)] = [
            ("name", p.name),
            ("kind", p.kind.rawValue),
            ("memory", "\(figure(p.memoryGiB)) GiB at \(figure(p.memoryBandwidthGBs)) GB/s"),
            ("efficiency", "matmul \(figure(e.matmul)), vector \(figure(e.vector)), memory \(figure(e.memory)), network \(figure(e.network))"),
            ("launch overhead", "\(figure(p.launchOverheadMicroseconds)) µs"),
            ("power", "\(figure(p.power.idle)) W idle, \(figure(p.power.peak)) W peak"),
            ("devices per node", String(net.devicesPerNode)),
            ("intra-node link", link(net.intraNode)),
            ("inter-node link", link(net.interNode)),
            ("host link", link(net.hostLink)),
            ("host memory", "\(figure(net.hostMemoryGiB)) GiB"),
        ]
        if p.name == ProfileLibrary.hostName {
            let supported = KernelSet.allCases.filter(\.isSupported).map(\.name)
            fields.append(("kernels", "\(KernelSet.selected.name) (this CPU runs: \(supported.joined(separator: ", ")))"))
        }
        if let price = p.pricePerHourUSD {
            fields.append(("price", "$\(figure(price)) per device-hour"))
            if let source = p.priceSource { fields.append(("price source", source)) }
        }
        var lines = aligned(fields)
        lines += ["", "peak TFLOP/s (dense; TOPS for integer formats; → marks a fallback)"]
        lines += aligned(DType.allCases.map { dtype in
            let used = p.executedDType(dtype), value = figure(p.peakFLOPS(dtype) / 1e12)
            return (dtype.rawValue, used == dtype ? value : "→ \(used.rawValue) \(value)")
        })
        lines += ["", "sources"] + p.sources.map { "  - " + $0 }
        return lines.joined(separator: "\n")
    }

    private static func aligned(_ rows: [(String, String)]) -> [String] {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
    }
}

/// `hardware list --json`: `{"profiles": [...]}`.
private struct ProfileListing: Encodable {
    var profiles: [HardwareProfile]
}

/// A datasheet figure as written: at most five significant digits, no trailing zeros
/// (`19.5`, `312`, `1978.9`, `0.1536`).
func figure(_ value: Double) -> String {
    guard value.isFinite, value != 0 else { return value == 0 ? "0" : "\(value)" }
    let decimals = max(0, 4 - Int(log10(abs(value)).rounded(.down)))
    var text = String(format: "%.\(decimals)f", value)
    if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text
}
