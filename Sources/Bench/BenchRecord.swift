import Engine
import Foundation

/// One benchmark result, the same shape everywhere (terminal table, `--json`, nightly history).
///
///     {"suite": "engine", "name": "mlp.epoch_seconds", "value": 0.84, "unit": "s", "better": "lower"}
public struct BenchRecord: Codable, Equatable, Sendable {
    public enum Better: String, Codable, Sendable { case lower, higher }
    public var suite: String
    public var name: String
    public var value: Double
    public var unit: String
    public var better: Better

    public init(suite: String, name: String, value: Double, unit: String, better: Better) {
        self.suite = suite; self.name = name; self.value = value; self.unit = unit; self.better = better
    }
}

/// What machine a benchmark ran on: enough to compare runs only with their own kind.
public struct HostInfo: Codable, Equatable, Sendable {
    public var cpu: String
    public var cores: Int
    public var threads: Int
    public var openblas: String
    public var os: String

    public static func current(threads: Int) -> HostInfo {
        HostInfo(cpu: cpuModel(), cores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                 openblas: openBLASConfiguration(), os: ProcessInfo.processInfo.operatingSystemVersionString)
    }

    private static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }
}

/// A suite's output: `{"results": [...], "host": {...}}`.
public struct BenchReport: Codable, Sendable {
    public var results: [BenchRecord]
    public var host: HostInfo
    public init(results: [BenchRecord], host: HostInfo) { self.results = results; self.host = host }

    /// Aligned text table for terminals.
    public var table: String {
        let nameWidth = max(4, results.map(\.name.count).max() ?? 0)
        var lines = [pad("name", nameWidth) + "  " + pad("value", 12, right: true) + "  unit      better"]
        for r in results {
            lines.append(pad(r.name, nameWidth) + "  " + pad(formatValue(r.value), 12, right: true) + "  " + pad(r.unit, 8) + "  " + r.better.rawValue)
        }
        return lines.joined(separator: "\n")
    }
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return right ? fill + s : s + fill
}

func formatValue(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
    return String(format: abs(v) >= 100 ? "%.1f" : (abs(v) >= 1 ? "%.3f" : "%.4f"), v)
}
