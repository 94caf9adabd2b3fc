import Engine
import Foundation
import XCTest
@testable import Search


final class CommandEvaluatorTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        var template = Array((NSTemporaryDirectory() + "/command-evaluator-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("cannot create a temporary directory") }
        directory = String(cString: template)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Write an executable script into the test directory; returns its path.
    private func script(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(path, 0o755), 0)
        return path
    }

    private func runCommand(_ spec: CommandSpec, _ candidate: JSONValue = .object([JSONValue.Member]()),
                     parameters: [(name: String, value: JSONValue)] = [],
                     report: (Int, [String: Double]) -> Bool = { _, _ in true }) throws -> EvaluationResult {
        try CommandEvaluator(spec).evaluate(candidate, parameters: parameters, report: report)
    }

    /// The reason of the `EvaluationError` `body` throws.
    private func failure(_ body: () throws -> EvaluationResult, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let m = try body()
            XCTFail("expected an evaluation error, got \(m)", file: file, line: line)
        } catch let error as EvaluationError {
            return error.reason
        } catch {
            XCTFail("expected an EvaluationError, got \(error)", file: file, line: line)
        }
        return ""
    }

    /// Whether process `pid` has ended (gone, or a zombie nobody reaps yet), waiting up to a second.
    private func processEnded(_ pid: Int32) -> Bool {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let state = stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces) else { return true }
            if state.hasPrefix("Z") { return true }
            usleep(10_000)
        }
        return false
    }

    private func shellSpec(_ command: String, timeout: Double? = nil) -> CommandSpec {
        CommandSpec(argv: ["/bin/sh", "-c", command], timeoutSeconds: timeout)
    }

    // MARK: One process per candidate

    func testCandidateOnStdinAndLogLinesIgnored() throws {
        let program = try script("train.py", """
            import json, sys
            c = json.loads(sys.stdin.readline())
            print("loading data...")
            print(json.dumps({"loss": c["lr"] * 2, "width": c["arch"]["width"]}))
            print("   ")
            """)
        let candidate = JSONValue.object([("lr", .number(0.125)), ("arch", .object([("width", .number(64))]))])
        let m = try runCommand(CommandSpec(argv: ["python3", program]), candidate)
        XCTAssertEqual(m, EvaluationResult(metrics: ["loss": 0.25, "width": 64]))
    }

    func testPlaceholdersInArguments() throws {
        let program = try script("args.py", """
            import json, sys
            lr, widths, name, braces, width = sys.argv[1:]
            print(json.dumps({"lr": float(lr), "widths_sum": sum(json.loads(widths)), "adam": int(name == "adam"),
                              "braces": int(braces == "{x}"), "integral": int(width == "64"), "stdin_empty": int(sys.stdin.read() == "")}))
            """)
        let parameters: [(name: String, value: JSONValue)] = [
            ("training.lr", .number(0.01)), ("architecture.widths", .array([.number(32), .number(16)])),
            ("training.optimizer", .string("adam")), ("architecture.width", .number(64)),
        ]
        let spec = CommandSpec(argv: ["python3", program, "{lr}", "{architecture.widths}", "{optimizer}", "{{x}}", "{width}"], input: .arguments)
        let m = try runCommand(spec, parameters: parameters)
        XCTAssertEqual(m.metrics, ["lr": 0.01, "widths_sum": 48, "adam": 1, "braces": 1, "integral": 1, "stdin_empty": 1])

        let echo = CommandSpec(argv: ["/bin/sh", "-c", "echo '{{\"loss\": {lr}}}'"], input: .arguments)
        XCTAssertEqual(try runCommand(echo, parameters: parameters).metrics, ["loss": 0.01])
    }

    func testPlaceholderRules() throws {
        XCTAssertEqual(try CommandArguments.pieces(of: "a{{b}}{c.d}e"), [.text("a{b}"), .placeholder("c.d"), .text("e")])
        XCTAssertEqual(try CommandArguments.placeholders(in: ["--lr={lr}", "{{lr}}", "{x}{y}"]), ["lr", "x", "y"])
        let parameters: [(name: String, value: JSONValue)] = [("encoder.width", .number(8)), ("decoder.width", .number(4)),
                                                              ("width", .number(2)), ("stages[0].depth", .number(3)),
                                                              ("act", .bool(true)), ("cfg", .object([("k", .null)]))]
        XCTAssertEqual(try CommandArguments.substitute(["{width}", "{encoder.width}", "{depth}", "{act}", "{cfg}"], parameters: parameters),
                       ["2", "8", "3", "true", "{\"k\":null}"], "a full key path wins over last keys")
        let ambiguous = failure { _ = try CommandArguments.substitute(["{width}"], parameters: Array(parameters.prefix(2))); return EvaluationResult(metrics: [:]) }
        XCTAssertTrue(ambiguous.contains("encoder.width, decoder.width"), ambiguous)
        let unknown = failure { _ = try CommandArguments.substitute(["--x={momentum}"], parameters: parameters); return EvaluationResult(metrics: [:]) }
        XCTAssertTrue(unknown.hasPrefix("unknown placeholder '{momentum}'"), unknown)
        XCTAssertThrowsError(try CommandArguments.pieces(of: "{lr"))
        XCTAssertThrowsError(try CommandArguments.pieces(of: "lr}"))
        XCTAssertThrowsError(try CommandArguments.pieces(of: "{}"))
        XCTAssertThrowsError(try CommandArguments.pieces(of: "{a{b}"))
        let atRun = failure { try runCommand(CommandSpec(argv: ["/bin/echo", "{missing}"], input: .arguments), parameters: parameters) }
        XCTAssertTrue(atRun.contains("'{missing}'"), atRun)
    }

    func testIntermediatePointsReportedInOrder() throws {
        let program = try script("curve.py", """
            import json
            for step in range(1, 4):
                print(json.dumps({"step": step, "loss": 1.0 / step}), flush=True)
                print(json.dumps({"step": step, "note": "not a point: it has a string"}))
            print(json.dumps({"loss": 0.25, "accuracy": 0.9}))
            """)
        var points: [(Int, [String: Double])] = []
        let m = try runCommand(CommandSpec(argv: ["python3", program])) { step, metrics in points.append((step, metrics)); return true }
        XCTAssertEqual(points.map(\.0), [1, 2, 3])
        XCTAssertEqual(points.map(\.1), [["loss": 1], ["loss": 0.5], ["loss": 1.0 / 3]])
        XCTAssertEqual(m, EvaluationResult(metrics: ["loss": 0.25, "accuracy": 0.9]))
    }

    func testEarlyStopTerminatesTheProgram() throws {
        let program = try script("slow.py", """
            import json, os, time
            open("pid", "w").write(str(os.getpid()))
            for step in range(1, 4):
                print(json.dumps({"step": step, "loss": 1.0 / step}), flush=True)
                if step == 2:
                    time.sleep(30)
            """)
        let start = Date()
        var steps: [Int] = []
        let m = try runCommand(CommandSpec(argv: ["python3", program], workingDirectory: directory)) { step, _ in steps.append(step); return step < 2 }
        XCTAssertLessThan(Date().timeIntervalSince(start), 15, "stopped long before the 30 s sleep ends")
        XCTAssertEqual(steps, [1, 2])
        XCTAssertEqual(m, EvaluationResult(metrics: ["loss": 0.5], stoppedEarly: true))
        let pid = try XCTUnwrap(Int32(String(contentsOfFile: directory + "/pid", encoding: .utf8)))
        XCTAssertTrue(processEnded(pid))
    }

    func testTimeoutStopsTheWholeProcessGroup() throws {
        let program = try script("hang.sh", """
            sleep 30 &
            echo $! > grandchild.pid
            echo started
            sleep 30
            """)
        let start = Date()
        let reason = failure { try runCommand(CommandSpec(argv: ["/bin/sh", program], timeoutSeconds: 1, workingDirectory: directory)) }
        XCTAssertEqual(reason, "timed out after 1 s")
        XCTAssertLessThan(Date().timeIntervalSince(start), 15, "stopped long before the 30 s sleep ends")
        let grandchild = try XCTUnwrap(Int32(String(contentsOfFile: directory + "/grandchild.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertTrue(processEnded(grandchild), "the background sleep survived the timeout")
    }

    func testFailuresHaveOneLineReasons() throws {
        XCTAssertEqual(failure { try runCommand(shellSpec("echo log; echo first >&2; echo 'out of memory' >&2; exit 3")) },
                       "exited with status 3: out of memory")
        XCTAssertEqual(failure { try runCommand(shellSpec("exit 2")) }, "exited with status 2")
        let killed = failure { try runCommand(shellSpec("kill -9 $$")) }
        XCTAssertTrue(killed.hasPrefix("was killed by signal 9"), killed)
        XCTAssertEqual(failure { try runCommand(shellSpec("echo '{{\"loss\": 1}}'; echo 'training done'")) },
                       "last line of stdout is not a JSON object: 'training done'")
        let long = failure { try runCommand(shellSpec("printf '%0100d\\n' 7")) }
        XCTAssertEqual(long, "last line of stdout is not a JSON object: '\(String(repeating: "0", count: 80))…'")
        XCTAssertEqual(failure { try runCommand(shellSpec("echo '[1, 2]'")) }, "last line of stdout is not a JSON object: '[1, 2]'")
        let empty = "printed nothing on stdout; expected a JSON object of metrics as its last line"
        XCTAssertEqual(failure { try runCommand(shellSpec("echo only stderr >&2")) }, empty)
        XCTAssertEqual(failure { try runCommand(shellSpec("printf '\\n  \\n'")) }, empty)
        let null = failure { try runCommand(shellSpec("echo '{{\"acc\": 0.5, \"loss\": null}}'")) }
        XCTAssertTrue(null.contains("'loss'") && null.contains("null"), null)
        let text = failure { try runCommand(shellSpec("echo '{{\"acc\": \"high\"}}'")) }
        XCTAssertTrue(text.contains("'acc'") && text.contains("a string"), text)
    }

    func testProgramThatCannotRun() throws {
        XCTAssertEqual(failure { try runCommand(CommandSpec(argv: ["/nonexistent/train"])) }, "cannot run '/nonexistent/train': no such file")
        XCTAssertEqual(failure { try runCommand(CommandSpec(argv: ["autotune-no-such-program"])) },
                       "cannot run 'autotune-no-such-program': no such file in PATH")
        let plain = directory + "/plain.txt"
        try "not a program".write(toFile: plain, atomically: true, encoding: .utf8)
        XCTAssertEqual(failure { try runCommand(CommandSpec(argv: [plain])) }, "cannot run '\(plain)': not executable")
        XCTAssertEqual(failure { try runCommand(CommandSpec(argv: ["/bin/true"], workingDirectory: directory + "/missing")) },
                       "working directory '\(directory)/missing' does not exist")
    }

    func testEnvironmentWorkingDirectoryAndRelativeProgram() throws {
        try "{}".write(toFile: directory + "/marker.txt", atomically: true, encoding: .utf8)
        _ = try script("env.py", """
            #!/usr/bin/env python3
            import json, os
            print(json.dumps({"v": float(os.environ["AUTOTUNE_TEST_VALUE"]), "here": int(os.path.exists("marker.txt")),
                              "path_kept": int("PATH" in os.environ)}))
            """)
        let spec = CommandSpec(argv: ["./env.py"], workingDirectory: directory, environment: ["AUTOTUNE_TEST_VALUE": "2.5"])
        XCTAssertEqual(try runCommand(spec).metrics, ["v": 2.5, "here": 1, "path_kept": 1])
    }

    func testChattyStderrAndLargeCandidateDoNotDeadlock() throws {
        let program = try script("chatty.py", """
            import json, sys
            sys.stderr.write("x" * 2000000 + "\\nlast words\\n")
            data = sys.stdin.read()
            print(json.dumps({"bytes": len(data)}))
            """)
        let blob = JSONValue.object([("blob", .string(String(repeating: "a", count: 300_000)))])
        XCTAssertEqual(try runCommand(CommandSpec(argv: ["python3", program], timeoutSeconds: 20), blob).metrics,
                       ["bytes": Double(blob.compactText.utf8.count + 1)])
        // A program that never reads its stdin exits while the candidate is still being written.
        XCTAssertEqual(try runCommand(shellSpec("echo '{{\"ok\": 1}}'", timeout: 20), blob).metrics, ["ok": 1])
    }

    func testNoDescriptorOrChildProcessIsLeft() throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        _ = failure { try runCommand(shellSpec("echo bad >&2; exit 3")) }
        _ = failure { try runCommand(shellSpec("sleep 30", timeout: 0.2)) }
        XCTAssertEqual(try runCommand(shellSpec("echo '{{\"a\": 1}}'")).metrics, ["a": 1])
        let stopped = try runCommand(shellSpec("echo '{{\"step\": 1, \"a\": 2}}'; sleep 30")) { _, _ in false }
        XCTAssertEqual(stopped, EvaluationResult(metrics: ["a": 2], stoppedEarly: true))
        do {
            let persistent = CommandEvaluator(CommandSpec(argv: ["/bin/sh", "-c", "while read line; do echo '{{\"b\": 3}}'; done"], persistent: true))
            XCTAssertEqual(try persistent.evaluate(.null, parameters: []) { _, _ in true }.metrics, ["b": 3])
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count, before)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(-1, &status, WNOHANG), -1, "a child process was left unreaped")
    }

    // MARK: Large and endless output

    func testLargeOutputIsReadQuicklyAndLongLinesAreCut() throws {
        let big = try script("big.py", """
            import json, sys
            sys.stdout.write("x" * 30_000_000)
            sys.stdout.write("\\n")
            for i in range(100_000): sys.stdout.write("log line %d\\n" % i)
            print(json.dumps({"f1": 1}))
            """)
        let m = try CommandEvaluator(CommandSpec(argv: ["python3", big], timeoutSeconds: 8)).evaluate(.null, parameters: []) { _, _ in true }
        XCTAssertEqual(m.metrics, ["f1": 1], "40 MB of output is read well inside the timeout")

        let long = try script("long.py", "import sys\nsys.stdout.write('y' * 3_000_000)\n")
        let reason = failure { try CommandEvaluator(CommandSpec(argv: ["python3", long], timeoutSeconds: 8)).evaluate(.null, parameters: []) { _, _ in true } }
        XCTAssertTrue(reason.hasPrefix("last line of stdout is not a JSON object: 'yyy"), reason)
        XCTAssertTrue(reason.contains("[line cut: \(3_000_000 - LineSplitter.maxLineBytes) more bytes not kept]"), reason)
    }

    func testTheTimeoutHoldsWhateverTheProgramPrints() throws {
        for program in ["yes", "head -c 2000000000 /dev/zero | tr '\\0' x"] {
            let start = Date()
            let reason = failure { try CommandEvaluator(CommandSpec(argv: ["/bin/sh", "-c", program], timeoutSeconds: 1)).evaluate(.null, parameters: []) { _, _ in true } }
            XCTAssertEqual(reason, "timed out after 1 s", program)
            XCTAssertLessThan(Date().timeIntervalSince(start), 4, "\(program): the 1 s timeout held")
        }
    }

    // MARK: One persistent process

    private func server() throws -> String {
        try script("server.py", """
            import json, os, sys, time
            count = 0
            for line in sys.stdin:
                c = json.loads(line)
                count += 1
                print("working on", count, flush=True)
                if c.get("crash"):
                    print("boom", file=sys.stderr, flush=True)
                    sys.exit(4)
                time.sleep(c.get("sleep", 0))
                for step in range(1, c.get("steps", 0) + 1):
                    print(json.dumps({"step": step, "loss": 1.0 / step}), flush=True)
                print(json.dumps({"count": count, "pid": os.getpid(), "x2": c.get("x", 0) * 2}), flush=True)
            """)
    }

    private func candidate(_ members: (String, JSONValue)...) -> JSONValue { .object(members) }

    func testPersistentProcessAnswersManyCandidates() throws {
        let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", try server()], timeoutSeconds: 10, persistent: true))
        var results: [[String: Double]] = []
        for x in 1...3 {
            results.append(try evaluator.evaluate(candidate(("x", .number(Double(x)))), parameters: []) { _, _ in true }.metrics)
        }
        XCTAssertEqual(results.map { $0["count"] }, [1, 2, 3])
        XCTAssertEqual(results.map { $0["x2"] }, [2, 4, 6])
        XCTAssertEqual(Set(results.compactMap { $0["pid"] }).count, 1, "one process served every candidate")

        var steps: [Int] = []
        let m = try evaluator.evaluate(candidate(("steps", .number(3))), parameters: []) { step, _ in steps.append(step); return true }
        XCTAssertEqual(steps, [1, 2, 3])
        XCTAssertEqual(m.metrics["count"], 4)

        evaluator.close()
        let pid = try XCTUnwrap(results[0]["pid"])
        XCTAssertTrue(processEnded(Int32(pid)))
    }

    func testPersistentCrashIsReportedAndTheNextCandidateRestarts() throws {
        let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", try server()], timeoutSeconds: 10, persistent: true))
        let first = try evaluator.evaluate(candidate(("x", .number(1))), parameters: []) { _, _ in true }
        XCTAssertEqual(failure { try evaluator.evaluate(candidate(("crash", .bool(true))), parameters: []) { _, _ in true } },
                       "persistent process exited with status 4: boom")
        let next = try evaluator.evaluate(candidate(("x", .number(2))), parameters: []) { _, _ in true }
        XCTAssertEqual(next.metrics["count"], 1, "a new process counts from 1")
        XCTAssertNotEqual(next.metrics["pid"], first.metrics["pid"])
    }

    func testPersistentAnswerThatIsNotAnObjectOfNumbersFailsAtOnce() throws {
        let server = try script("bad.py", """
            import json, sys
            replies = {1: "[1, 2]", 2: '{"f1": NaN}', 3: '{"f1": 1,', 4: '{"f1": "high"}'}
            for line in sys.stdin:
                print("log line", flush=True)
                x = json.loads(line)["x"]
                print(replies.get(x, json.dumps({"f1": x})), flush=True)
            """)
        let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", server], timeoutSeconds: 60, persistent: true))
        let expected = [
            "persistent process's answer is not a JSON object: '[1, 2]'",
            "persistent process's answer is not a JSON object: '{\"f1\": NaN}' (NaN and Infinity are not JSON numbers)",
            "persistent process's answer is not a JSON object: '{\"f1\": 1,'",
            "metric 'f1' on the persistent process's answer is a string, expected a number",
        ]
        for (x, reason) in zip(1..., expected) {
            let start = Date()
            XCTAssertEqual(failure { try evaluator.evaluate(candidate(("x", .number(Double(x)))), parameters: []) { _, _ in true } }, reason)
            XCTAssertLessThan(Date().timeIntervalSince(start), 20, "failed at once, not at the 60 s timeout")
        }
        XCTAssertEqual(try evaluator.evaluate(candidate(("x", .number(5))), parameters: []) { _, _ in true }.metrics, ["f1": 5])
        evaluator.close()
    }

    func testPersistentTimeoutAndEarlyStopRestartTheProcess() throws {
        let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", try server()], timeoutSeconds: 1, persistent: true))
        _ = try evaluator.evaluate(candidate(("x", .number(1))), parameters: []) { _, _ in true }
        let start = Date()
        XCTAssertEqual(failure { try evaluator.evaluate(candidate(("sleep", .number(30))), parameters: []) { _, _ in true } },
                       "timed out after 1 s")
        XCTAssertLessThan(Date().timeIntervalSince(start), 15, "stopped long before the 30 s sleep ends")
        XCTAssertEqual(try evaluator.evaluate(candidate(("x", .number(1))), parameters: []) { _, _ in true }.metrics["count"], 1)

        let stopped = try evaluator.evaluate(candidate(("steps", .number(3))), parameters: []) { step, _ in step < 2 }
        XCTAssertEqual(stopped, EvaluationResult(metrics: ["loss": 0.5], stoppedEarly: true))
        XCTAssertEqual(try evaluator.evaluate(candidate(("x", .number(1))), parameters: []) { _, _ in true }.metrics["count"], 1)
    }

    func testPersistentCommandTakesNoPlaceholders() {
        let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", "serve.py", "--lr={lr}"], persistent: true))
        let reason = failure { try evaluator.evaluate(.null, parameters: [("lr", .number(0.1))]) { _, _ in true } }
        XCTAssertTrue(reason.hasPrefix("placeholder '{lr}' in '--lr={lr}'"), reason)
    }
}
