import Foundation

/// The image formats plots are drawn in.
public enum PlotFormat: String, CaseIterable, Sendable {
    case png, svg

    /// gnuplot's terminal line. Text is not "enhanced", so metric names keep their underscores.
    func terminal(width: Int, height: Int) -> String {
        switch self {
        case .png: return "set terminal pngcairo size \(width),\(height) noenhanced font 'Sans,11' background rgb 'white'"
        case .svg: return "set terminal svg size \(width),\(height) noenhanced font 'Sans,11' background rgb 'white'"
        }
    }
}

/// A gnuplot script built line by line, with its data inline as named data blocks
/// (`$front << EOD … EOD`, gnuplot 5), so one file holds everything a plot needs and can be rerun
/// or edited by hand.
///
///     var script = GnuplotScript(format: .svg, output: "front.svg")
///     script.set("title", GnuplotScript.quote("quickstart"))
///     script.dataBlock("front", rows: [[0.87, 1.2e5]])
///     script.append("plot $front using 1:2 with linespoints")
public struct GnuplotScript: Equatable, Sendable {
    public private(set) var lines: [String]

    public init(format: PlotFormat, output: String, width: Int = 960, height: Int = 640) {
        lines = [format.terminal(width: width, height: height), "set output \(Self.quote(output))"]
    }

    public mutating func append(_ line: String) { lines.append(line) }

    /// `set NAME VALUE`.
    public mutating func set(_ name: String, _ value: String = "") {
        lines.append(value.isEmpty ? "set \(name)" : "set \(name) \(value)")
    }

    /// A data block of whitespace-separated columns; numbers written so gnuplot reads them back exactly.
    public mutating func dataBlock(_ name: String, rows: [[Double]]) {
        lines.append("$\(name) << EOD")
        lines += rows.map { $0.map(Self.number).joined(separator: " ") }
        lines.append("EOD")
    }

    /// Blocks separated by blank lines (gnuplot's data sets within one block, e.g. one curve each).
    public mutating func dataBlock(_ name: String, sets: [[[Double]]]) {
        lines.append("$\(name) << EOD")
        for (i, rows) in sets.enumerated() {
            if i > 0 { lines += ["", ""] }
            lines += rows.map { $0.map(Self.number).joined(separator: " ") }
        }
        lines.append("EOD")
    }

    public var text: String { lines.joined(separator: "\n") + "\n" }

    /// A single-quoted gnuplot string (a quote inside is doubled).
    public static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A double-quoted gnuplot string of several lines (a backslash or double quote inside escaped).
    public static func quoteLines(_ lines: [String]) -> String {
        "\"" + lines.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
            .joined(separator: "\\n") + "\""
    }

    /// A number as gnuplot reads it; NaN (a missing value) as gnuplot's `NaN`.
    static func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "NaN"
    }
}

/// Runs gnuplot on a script file.
public struct Gnuplot: Sendable {
    public let executable: String

    /// The Debian package that provides gnuplot without a display.
    public static let package = "gnuplot-nox"

    /// gnuplot from `PATH`, or a `ReportError` (tool) naming the package to install.
    public static func locate(path: String? = ProcessInfo.processInfo.environment["PATH"]) throws -> Gnuplot {
        for dir in (path ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return Gnuplot(executable: candidate) }
        }
        throw ReportError("gnuplot not found on PATH: install it (apt-get install \(package)) to draw plots", kind: .tool)
    }

    /// Write `script` to `scriptPath` and run it; gnuplot's first error line becomes a `ReportError`.
    public func run(_ script: GnuplotScript, scriptPath: String) throws {
        do {
            try script.text.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError("\(scriptPath): cannot write the plot script (\(error.localizedDescription))", kind: .tool)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [scriptPath]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ReportError("cannot run \(executable): \(error.localizedDescription)", kind: .tool)
        }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let reason = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty && $0 != "^" } ?? "exit status \(process.terminationStatus)"
            throw ReportError("gnuplot failed on \(scriptPath): \(reason)", kind: .tool)
        }
    }
}
