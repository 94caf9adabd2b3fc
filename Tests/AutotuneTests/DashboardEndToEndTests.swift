import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// `autotune dashboard` as a user starts it: it prints where it listens, serves the store, warns
/// when it listens beyond loopback, refuses bad options with exit 2, and stops on SIGINT with 0.
final class DashboardEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }
    private let zdt1 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("searchspaces/zdt1.json").path

    /// Starts the dashboard with `args`, waits for the line with its address; returns the process,
    /// the address and its stderr file.
    private func start(_ args: [String]) throws -> (Process, URL, URL) {
        let process = Process()
        process.executableURL = try XCTUnwrap(autotuneExecutable)
        process.arguments = ["dashboard", "--db", db, "--port", "0"] + args
        let out = scratch.appendingPathComponent("out-\(UUID().uuidString)"), err = scratch.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        for _ in 0 ..< 100 {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"http://[^ ]+/"#, options: .regularExpression) {
                return (process, try XCTUnwrap(URL(string: String(text[range]))), err)
            }
            usleep(50_000)
        }
        process.terminate()
        XCTFail("the dashboard printed no address: " + ((try? String(contentsOf: err, encoding: .utf8)) ?? ""))
        throw XCTSkip("no dashboard")
    }

    private func fetch(_ url: URL) -> (Int, Data) {
        final class Answer: @unchecked Sendable { var value: (Int, Data) = (0, Data()) }
        let done = DispatchSemaphore(value: 0), answer = Answer()
        URLSession.shared.dataTask(with: url) { data, response, _ in
            answer.value = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        return answer.value
    }

    func testItServesTheStoreAndStopsOnSIGINT() throws {
        XCTAssertEqual(runAutotune(["search", zdt1, "--budget", "40", "--db", db, "--quiet"]).status, 0)
        let (process, url, _) = try start([])
        XCTAssertEqual(url.host, "127.0.0.1", "loopback by default")
        let (status, body) = fetch(url.appendingPathComponent("api/studies"))
        XCTAssertEqual(status, 200)
        XCTAssertTrue(String(decoding: body, as: UTF8.self).contains(#""name":"zdt1""#))
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testAnotherHostIsServedWithAWarning() throws {
        XCTAssertEqual(runAutotune(["search", zdt1, "--budget", "5", "--db", db, "--quiet"]).status, 0)
        let (process, _, err) = try start(["--host", "0.0.0.0"])
        defer { process.terminate(); process.waitUntilExit() }
        usleep(100_000)
        let warning = try String(contentsOf: err, encoding: .utf8)
        XCTAssertTrue(warning.contains("autotune: warning: serving \(db) to every client that can reach 0.0.0.0:"), warning)
    }

    func testBadOptionsExitTwoWithOneLine() throws {
        XCTAssertEqual(runAutotune(["search", zdt1, "--budget", "5", "--db", db, "--quiet"]).status, 0)
        let host = runAutotune(["dashboard", "--db", db, "--host", "localhost:80"])
        XCTAssertEqual(host.status, 2)
        XCTAssertTrue(host.stderr.hasPrefix("autotune: error: invalid value 'localhost:80' for '--host': not an IPv4 or IPv6 address"), host.stderr)
        XCTAssertEqual(runAutotune(["dashboard", "--db", db, "--port", "70000"]).status, 2)
        let missing = runAutotune(["dashboard", "--db", scratch.appendingPathComponent("none.sqlite").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no such store"), missing.stderr)
    }
}
