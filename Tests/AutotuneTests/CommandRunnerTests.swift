import XCTest
@testable import autotune

/// Resolution of the real command tree, in process: which command runs, with which typed values.
final class CommandRunnerTests: XCTestCase {
    let runner = CommandRunner(root: AutotuneCommand.self)

    func resolve(_ arguments: [String]) throws -> (Invocation, [String]) {
        var path = ["autotune"]
        let invocation = try runner.resolve(arguments, path: &path)
        return (invocation, path)
    }

    /// The error `arguments` fail with, and the command path the hint will name.
    func failure(_ arguments: [String], line: UInt = #line) -> (CLIError?, [String]) {
        var path = ["autotune"]
        do {
            _ = try runner.resolve(arguments, path: &path)
            XCTFail("expected an error for \(arguments)", line: line)
            return (nil, path)
        } catch {
            return (error as? CLIError, path)
        }
    }

    func helpPath(_ arguments: [String], line: UInt = #line) throws -> [String]? {
        guard case .help(_, let path) = try resolve(arguments).0 else { return nil }
        return path
    }

    func testHelpForms() throws {
        XCTAssertEqual(try helpPath([]), ["autotune"])
        XCTAssertEqual(try helpPath(["--help"]), ["autotune"])
        XCTAssertEqual(try helpPath(["help"]), ["autotune"])
        XCTAssertEqual(try helpPath(["help", "eval"]), ["autotune", "eval"])
        XCTAssertEqual(try helpPath(["eval", "-h"]), ["autotune", "eval"])
        XCTAssertEqual(try helpPath(["eval", "x.json", "--threads", "0", "--help"]), ["autotune", "eval"])
        XCTAssertEqual(try helpPath(["help", "bench", "engine"]), ["autotune", "bench", "engine"])
        XCTAssertEqual(try helpPath(["bench", "help", "engine"]), ["autotune", "bench", "engine"])
        XCTAssertEqual(try helpPath(["bench"]), ["autotune", "bench"])
    }

    func testHelpAfterDoubleDashIsAnArgument() throws {
        guard case .run(let command, _) = try resolve(["eval", "--", "--help"]).0 else {
            return XCTFail("expected eval to run")
        }
        XCTAssertEqual((command as? EvalCommand)?.candidatePath, "--help")
    }

    func testEvalTypedValues() throws {
        guard case .run(let command, let path) = try resolve(
            ["eval", "c.json", "--json", "--threads=3", "--data-dir", "sets/fashion", "--quiet"]).0,
            let eval = command as? EvalCommand
        else { return XCTFail("expected eval") }
        XCTAssertEqual(path, ["autotune", "eval"])
        XCTAssertEqual(eval.candidatePath, "c.json")
        XCTAssertTrue(eval.json)
        XCTAssertTrue(eval.quiet)
        XCTAssertEqual(eval.threads, 3)
        XCTAssertEqual(eval.dataDirectory, "sets/fashion")
    }

    func testEvalDefaults() throws {
        guard case .run(let command, _) = try resolve(["eval", "c.json"]).0,
              let eval = command as? EvalCommand
        else { return XCTFail("expected eval") }
        XCTAssertFalse(eval.json)
        XCTAssertFalse(eval.quiet)
        XCTAssertEqual(eval.threads, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertNil(eval.dataDirectory, "the data set's own default directory")
    }

    func testBenchEngineTypedValues() throws {
        guard case .run(let command, let path) = try resolve(
            ["bench", "engine", "--epochs", "3", "--only", "cnn,mlp,cnn"]).0,
            let bench = command as? BenchEngineCommand
        else { return XCTFail("expected bench engine") }
        XCTAssertEqual(path, ["autotune", "bench", "engine"])
        XCTAssertEqual(bench.epochs, 3)
        XCTAssertEqual(bench.models, [.cnn, .mlp])
        XCTAssertFalse(bench.json)
    }

    func testBenchEngineRunsBothModelsByDefault() throws {
        guard case .run(let command, _) = try resolve(["bench", "engine"]).0,
              let bench = command as? BenchEngineCommand
        else { return XCTFail("expected bench engine") }
        XCTAssertEqual(bench.models, [.mlp, .cnn])
        XCTAssertEqual(bench.epochs, 5)
    }

    func testRangeChecks() {
        XCTAssertEqual(failure(["eval", "c.json", "--threads", "0"]).0,
                       .invalidValue(name: "--threads", value: "0", reason: "must be at least 1"))
        XCTAssertEqual(failure(["bench", "engine", "--epochs=0"]).0,
                       .invalidValue(name: "--epochs", value: "0", reason: "must be at least 1"))
        XCTAssertEqual(failure(["bench", "engine", "--threads", "-2"]).0,
                       .invalidValue(name: "--threads", value: "-2", reason: "must be at least 1"))
        XCTAssertEqual(failure(["bench", "engine", "--only", ","]).0,
                       .invalidValue(name: "--only", value: ",", reason: "name at least one of mlp, cnn"))
    }

    func testBadModelNameSuggests() {
        XCTAssertEqual(failure(["bench", "engine", "--only", "mlp,cn"]).0?.suggestion, "cnn")
    }

    func testUnknownCommandsSuggestAndKeepThePath() {
        let (root, rootPath) = failure(["evl", "x.json"])
        XCTAssertEqual(root, .unknownCommand("evl", suggestion: "eval"))
        XCTAssertEqual(rootPath, ["autotune"])
        let (nested, nestedPath) = failure(["bench", "engin"])
        XCTAssertEqual(nested, .unknownCommand("engin", suggestion: "engine"))
        XCTAssertEqual(nestedPath, ["autotune", "bench"])
        XCTAssertEqual(failure(["help", "bnch"]).0, .unknownCommand("bnch", suggestion: "bench"))
    }

    func testUnknownOptionKeepsTheLeafPath() {
        let (error, path) = failure(["eval", "x.json", "--jsn"])
        XCTAssertEqual(error, .unknownOption("--jsn", suggestion: "--json"))
        XCTAssertEqual(path, ["autotune", "eval"])
    }

    func testVersionFlagRunsTheRoot() throws {
        guard case .run(let command, _) = try resolve(["--version"]).0 else { return XCTFail("expected run") }
        XCTAssertEqual((command as? AutotuneCommand)?.showVersion, true)
        XCTAssertEqual(failure(["--verison"]).0, .unknownOption("--verison", suggestion: "--version"))
    }

    func testEverySubcommandHasHelpAndAUniqueName() {
        func visit(_ command: any Command.Type, path: [String]) {
            let names = command.configuration.subcommands.map { $0.configuration.name }
            XCTAssertEqual(Set(names).count, names.count, "duplicate subcommand under \(path)")
            XCTAssertFalse(names.contains("help"), "'help' is built in")
            let options = command.configuration.options.map(\.name)
            XCTAssertEqual(Set(options).count, options.count, "duplicate option in \(path)")
            XCTAssertFalse(options.contains("help"), "'--help' is built in")
            XCTAssertFalse(command.configuration.abstract.isEmpty)
            for subcommand in command.configuration.subcommands {
                visit(subcommand, path: path + [subcommand.configuration.name])
            }
        }
        visit(AutotuneCommand.self, path: ["autotune"])
    }
}
