/// The help text of a command, always in the same shape: OVERVIEW, USAGE, ARGUMENTS, OPTIONS,
/// SUBCOMMANDS, with empty sections left out. Text is wrapped to 80 columns; the usage line is
/// kept whole so it can be searched for.
///
///     print(Help.render(EvalCommand.configuration, path: ["autotune", "eval"]))
enum Help {
    static let width = 80
    /// Where the help column starts in ARGUMENTS, OPTIONS and SUBCOMMANDS.
    static let helpColumn = 26

    static func render(_ configuration: CommandConfiguration, path: [String]) -> String {
        var sections: [String] = []
        sections.append(wrap(configuration.abstract, prefix: "OVERVIEW: ", continuation: "").joined(separator: "\n"))
        sections.append("USAGE: " + usage(configuration, path: path))

        if !configuration.arguments.isEmpty {
            sections.append(section("ARGUMENTS", configuration.arguments.map { argument in
                (argument.valueName + (argument.isRepeated ? " ..." : ""), argument.help)
            }))
        }
        let options = configuration.options.map { option in
            (usageToken(option), option.help + defaultNote(option))
        }
        sections.append(section("OPTIONS", options + [("-h, --help", "Show help information.")]))
        if !configuration.subcommands.isEmpty {
            let entries = configuration.subcommands.map { ($0.configuration.name, $0.configuration.abstract) }
            let pointer = "  See '\(path.joined(separator: " ")) help <subcommand>' for detailed help."
            sections.append(section("SUBCOMMANDS", entries) + "\n\n" + pointer)
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// The usage line: the command path followed by the declared or the generated synopsis.
    ///
    ///     autotune eval CANDIDATE.json [--json] [--threads N] [--data-dir DIR] [--quiet]
    static func usage(_ configuration: CommandConfiguration, path: [String]) -> String {
        let synopsis = configuration.usage ?? generatedSynopsis(configuration)
        return (path + (synopsis.isEmpty ? [] : [synopsis])).joined(separator: " ")
    }

    private static func generatedSynopsis(_ configuration: CommandConfiguration) -> String {
        var parts: [String] = configuration.arguments.map { argument in
            if argument.isRepeated { return "[\(argument.valueName) ...]" }
            return argument.isOptional ? "[\(argument.valueName)]" : argument.valueName
        }
        if !configuration.subcommands.isEmpty { parts.append("SUBCOMMAND") }
        parts += configuration.options.map { "[\(usageToken($0))]" }
        return parts.joined(separator: " ")
    }

    private static func usageToken(_ option: Option) -> String {
        option.kind == .flag ? option.spelling : "\(option.spelling) \(option.valueName)"
    }

    private static func defaultNote(_ option: Option) -> String {
        guard let shown = option.defaultDescription ?? option.defaultValue else { return "" }
        return " (default: \(shown))"
    }

    /// A titled list of `label  help` rows; a label too wide for the column gets its own line.
    private static func section(_ title: String, _ entries: [(label: String, help: String)]) -> String {
        var lines = [title + ":"]
        let indent = String(repeating: " ", count: helpColumn)
        for (label, help) in entries {
            let head = "  " + label
            if head.count + 2 <= helpColumn {
                let padded = head + String(repeating: " ", count: helpColumn - head.count)
                lines += wrap(help, prefix: padded, continuation: indent)
            } else {
                lines.append(head)
                lines += wrap(help, prefix: indent, continuation: indent)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Greedy word wrap to `width` columns; the first line starts with `prefix`, later lines with
    /// `continuation`. A word longer than a line is left whole.
    static func wrap(_ text: String, prefix: String, continuation: String) -> [String] {
        var lines: [String] = []
        var line = prefix
        var lineHasWord = false
        for word in text.split(separator: " ") {
            if lineHasWord, line.count + 1 + word.count > width {
                lines.append(line)
                line = continuation
                lineHasWord = false
            }
            line += (lineHasWord ? " " : "") + word
            lineHasWord = true
        }
        lines.append(line)
        return lines
    }
}
