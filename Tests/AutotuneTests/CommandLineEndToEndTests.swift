import XCTest

/// The real executable: its help text, error text and exit codes, as scripts see them.
final class CommandLineEndToEndTests: XCTestCase {
    func testVersion() {
        let result = runAutotune(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "autotune 0.1.0\n")
        XCTAssertEqual(result.stderr, "")
    }

    func testNoArgumentsPrintsRootHelp() {
        let result = runAutotune([])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.hasPrefix("OVERVIEW: "), result.stdout)
        XCTAssertEqual(result.stdout, runAutotune(["--help"]).stdout)
    }

    func testRootHelp() {
        let result = runAutotune(["--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        XCTAssertTrue(result.stdout.contains("USAGE: autotune SUBCOMMAND\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("SUBCOMMANDS:\n  search "), result.stdout)
        for name in ["studies", "show", "front", "plot", "report", "export", "ask", "tell", "eval"] {
            XCTAssertTrue(result.stdout.contains("\n  \(name) "), name)
        }
        XCTAssertTrue(result.stdout.contains("\n  bench "), result.stdout)
        XCTAssertTrue(result.stdout.contains("  -h, --help              Show help information.\n"), result.stdout)
    }

    func testHelpEvalEqualsEvalHelp() {
        let viaHelp = runAutotune(["help", "eval"])
        let viaFlag = runAutotune(["eval", "--help"])
        XCTAssertEqual(viaHelp.status, 0)
        XCTAssertEqual(viaFlag.status, 0)
        XCTAssertEqual(viaHelp.stdout, viaFlag.stdout)
        XCTAssertEqual(runAutotune(["eval", "-h"]).stdout, viaFlag.stdout)
        let text = viaFlag.stdout
        XCTAssertTrue(text.hasPrefix("OVERVIEW: Train, compress and evaluate one candidate and print its metrics."), text)
        XCTAssertTrue(text.contains(
            "USAGE: autotune eval CANDIDATE.json [--json] [--threads N] [--data-dir DIR] [--teacher-cache DIR] [--onnx PATH] [--predictions PATH] [--test-inputs PATH] [--quiet]\n"), text)
        XCTAssertTrue(text.contains("ARGUMENTS:\n  CANDIDATE.json "), text)
        XCTAssertTrue(text.contains("OPTIONS:\n  --json "), text)
        XCTAssertTrue(text.contains("  --threads N "), text)
        XCTAssertTrue(text.contains("  --data-dir DIR "), text)
        for option in ["  --onnx PATH ", "  --predictions PATH ", "  --test-inputs PATH "] {
            XCTAssertTrue(text.contains(option), "missing \(option) in\n\(text)")
        }
        XCTAssertFalse(text.contains("SUBCOMMANDS"), text)
    }

    func testBenchEngineHelp() {
        let result = runAutotune(["bench", "engine", "--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, runAutotune(["help", "bench", "engine"]).stdout)
        XCTAssertTrue(result.stdout.hasPrefix("OVERVIEW: Benchmark the training engine on Fashion-MNIST"), result.stdout)
        XCTAssertTrue(result.stdout.contains(
            "USAGE: autotune bench engine [--json] [--epochs N] [--threads N] [--data-dir DIR] [--only mlp,cnn] [--quiet]\n"),
            result.stdout)
        XCTAssertFalse(result.stdout.contains("ARGUMENTS"), result.stdout)
    }

    func testBenchListsItsSuites() {
        let result = runAutotune(["bench", "--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("SUBCOMMANDS:\n  engine "), result.stdout)
    }

    func testUnknownCommandSuggests() {
        let result = runAutotune(["evl"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr,
                       "autotune: error: unknown command 'evl'. Did you mean 'eval'?\nSee 'autotune --help'.\n")
    }

    func testUnknownOptionSuggests() {
        let result = runAutotune(["eval", "x.json", "--jsn"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr,
                       "autotune: error: unknown option '--jsn'. Did you mean '--json'?\nSee 'autotune eval --help'.\n")
    }

    func testMissingCandidate() {
        let result = runAutotune(["eval"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("autotune: error: missing argument 'CANDIDATE.json'\n"), result.stderr)
    }

    func testZeroThreadsNamesTheOption() {
        let result = runAutotune(["eval", "x.json", "--threads", "0"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("autotune: error: invalid value '0' for '--threads'"), result.stderr)
        XCTAssertEqual(runAutotune(["bench", "engine", "--threads=0"]).status, 2)
    }

    func testMissingOptionValue() {
        let result = runAutotune(["bench", "engine", "--epochs"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("missing value for '--epochs'"), result.stderr)
        XCTAssertTrue(result.stderr.hasSuffix("See 'autotune bench engine --help'.\n"), result.stderr)
    }

    func testBadModelNameSuggests() {
        let result = runAutotune(["bench", "engine", "--only", "mlp,cn"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("invalid value 'cn' for '--only'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("Did you mean 'cnn'?"), result.stderr)
    }

    func testErrorIsOneReasonLineAndOneHintLine() {
        let result = runAutotune(["bench", "engin"])
        XCTAssertEqual(result.status, 2)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, result.stderr)
        XCTAssertEqual(lines.last, "See 'autotune bench --help'.")
    }
}
