import XCTest
@testable import autotune

final class HelpTests: XCTestCase {
    func testUsageLinesMatchTheDocumentedContract() {
        XCTAssertEqual(Help.usage(EvalCommand.configuration, path: ["autotune", "eval"]),
                       "autotune eval CANDIDATE.json [--json] [--threads N] [--data-dir DIR] [--teacher-cache DIR] [--onnx PATH] [--predictions PATH] [--test-inputs PATH] [--quiet]")
        XCTAssertEqual(Help.usage(BenchCompressionCommand.configuration, path: ["autotune", "bench", "compression"]),
                       "autotune bench compression [--json] [--epochs N] [--threads N] [--data-dir DIR] [--models mlp,cnn] [--only TECHNIQUES] [--distill-seeds N] [--peers] [--quiet]")
        XCTAssertEqual(Help.usage(BenchEngineCommand.configuration, path: ["autotune", "bench", "engine"]),
                       "autotune bench engine [--json] [--epochs N] [--threads N] [--data-dir DIR] [--only mlp,cnn] [--quiet]")
        XCTAssertEqual(Help.usage(BenchCommand.configuration, path: ["autotune", "bench"]), "autotune bench SUBCOMMAND")
        XCTAssertEqual(Help.usage(ExportCommand.configuration, path: ["autotune", "export"]),
                       "autotune export STUDY [--format deepspeed|accelerate|recipe|onnx|pytorch] [--trial N | --pick RULE] [--stack deepspeed|fsdp] [--devices N] [--allow-loss] [--out PATH] [--db PATH | --storage URL] [--json]")
    }

    func testSectionsComeInOrderAndEmptyOnesAreLeftOut() {
        let eval = Help.render(EvalCommand.configuration, path: ["autotune", "eval"])
        XCTAssertEqual(headings(eval), ["OVERVIEW", "USAGE", "ARGUMENTS", "OPTIONS"])
        let root = Help.render(AutotuneCommand.configuration, path: ["autotune"])
        XCTAssertEqual(headings(root), ["OVERVIEW", "USAGE", "OPTIONS", "SUBCOMMANDS"])
        XCTAssertTrue(root.contains("  --version               Show the version.\n"))
        XCTAssertTrue(root.contains("See 'autotune help <subcommand>' for detailed help."))
    }

    func testDefaultsAreShown() {
        let bench = Help.render(BenchEngineCommand.configuration, path: ["autotune", "bench", "engine"])
        XCTAssertTrue(bench.contains("(default: 5)"), bench)
        XCTAssertTrue(bench.contains("(default: all"), bench)
    }

    func testLinesFitEightyColumnsExceptUsage() {
        for (configuration, path) in [(AutotuneCommand.configuration, ["autotune"]),
                                      (EvalCommand.configuration, ["autotune", "eval"]),
                                      (ExportCommand.configuration, ["autotune", "export"]),
                                      (BenchEngineCommand.configuration, ["autotune", "bench", "engine"]),
                                      (BenchCompressionCommand.configuration, ["autotune", "bench", "compression"])] {
            for line in Help.render(configuration, path: path).split(separator: "\n") where !line.hasPrefix("USAGE:") {
                XCTAssertLessThanOrEqual(line.count, Help.width, String(line))
            }
        }
    }

    func testLongLabelGetsItsOwnLine() {
        let configuration = CommandConfiguration(
            name: "x", abstract: "X.",
            options: [.value("a-very-long-option-name", valueName: "VALUE", help: "Explained below.")])
        let text = Help.render(configuration, path: ["x"])
        XCTAssertTrue(text.contains("  --a-very-long-option-name VALUE\n" + String(repeating: " ", count: 26)
                                    + "Explained below."), text)
    }

    func testWrapBreaksBetweenWords() {
        let words = Array(repeating: "word", count: 30).joined(separator: " ")
        let lines = Help.wrap(words, prefix: "> ", continuation: "  ")
        XCTAssertGreaterThan(lines.count, 1)
        XCTAssertTrue(lines.allSatisfy { $0.count <= Help.width })
        XCTAssertEqual(lines.joined(separator: " ").split(separator: " ").filter { $0 == "word" }.count, 30)
    }

    private func headings(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let first = line.first, first.isUppercase, let colon = line.firstIndex(of: ":") else { return nil }
            return String(line[..<colon])
        }
    }
}
