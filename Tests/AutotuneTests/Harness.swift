import Foundation
import XCTest
import Engine

/// The built `autotune` executable, found next to the test bundle.
///
/// SwiftPM puts executables and the test bundle in one products directory
/// (`<scratch>/<triple>/debug/`), whatever `--scratch-path` was; on Linux the bundle is
/// `autotunePackageTests.xctest`, on macOS a directory of that name. The search starts from every
/// place the running test process can be located and walks up a few levels.
/// `AUTOTUNE_EXECUTABLE` in the environment overrides the search.
let autotuneExecutable: URL? = {
    let fileManager = FileManager.default
    if let override = ProcessInfo.processInfo.environment["AUTOTUNE_EXECUTABLE"] {
        return URL(fileURLWithPath: override)
    }
    var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
    starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
    if let executable = Bundle.main.executableURL { starts.append(executable) }
    for start in starts {
        var directory = start.standardizedFileURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("autotune")
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fileManager.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
    }
    return nil
}()

/// Starts the built `autotune` with `args` in `directory` without waiting for it: standard output
/// discarded, standard error into the file `stderr` (created empty) or discarded, and the store
/// chosen by the arguments alone (`AUTOTUNE_STORAGE` cleared).
///
///     let worker = try startAutotune(["worker", "lease", "--db", store], in: scratch, stderr: log)
func startAutotune(_ args: [String], in directory: URL, stderr: URL? = nil) throws -> Process {
    let process = Process()
    process.executableURL = try XCTUnwrap(autotuneExecutable, "autotune executable not found next to the test bundle")
    process.arguments = args
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["AUTOTUNE_STORAGE"] = nil
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    if let stderr {
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderr)
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

/// Runs the built `autotune` with `args` and returns its exit status and everything it printed.
///
///     let result = runAutotune(["--version"])
///     XCTAssertEqual(result.stdout, "autotune 0.1.0\n")
///
/// Output goes through temporary files rather than pipes, so a command that prints a lot cannot
/// block on a full pipe. A missing executable fails the calling test and returns status -1.
/// - Parameters:
///   - args: the command line after the program name.
///   - directory: the working directory; the test process's own when `nil`.
///   - environment: extra variables on top of the test process's environment.
func runAutotune(_ args: [String], in directory: URL? = nil,
                 environment: [String: String] = [:],
                 file: StaticString = #filePath, line: UInt = #line) -> (status: Int32, stdout: String, stderr: String) {
    guard let executable = autotuneExecutable else {
        XCTFail("autotune executable not found next to the test bundle", file: file, line: line)
        return (-1, "", "")
    }
    do {
        return try runProgram(executable, args, in: directory, environment: environment)
    } catch {
        XCTFail("could not run \(executable.path): \(error)", file: file, line: line)
        return (-1, "", "")
    }
}

/// Runs `executable` with `args` as `runAutotune` does (output through temporary files, no store
/// named in the environment); throws when it cannot be started.
func runProgram(_ executable: URL, _ args: [String], in directory: URL? = nil,
                environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let fileManager = FileManager.default
    let scratch = fileManager.temporaryDirectory.appendingPathComponent("autotune-run-\(UUID().uuidString)")
    try fileManager.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? fileManager.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
    try Data().write(to: outURL)
    try Data().write(to: errURL)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)

    let process = Process()
    process.executableURL = executable
    process.arguments = args
    if let directory { process.currentDirectoryURL = directory }
    // A store named in the caller's environment would replace every test's own --db.
    var inherited = ProcessInfo.processInfo.environment
    inherited["AUTOTUNE_STORAGE"] = nil
    process.environment = inherited.merging(environment) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    let stdout = String(decoding: try Data(contentsOf: outURL), as: UTF8.self)
    let stderr = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
    return (process.terminationStatus, stdout, stderr)
}

/// A test case with its own temporary directory, created before each test and removed after.
class ScratchTestCase: XCTestCase {
    /// This test's directory.
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// Write `text` to `name` in the scratch directory; returns its path.
    func write(_ name: String, _ text: String) -> String {
        let url = scratch.appendingPathComponent(name)
        try? Data(text.utf8).write(to: url)
        return url.path
    }

    /// Writes plain (uncompressed) IDX files of random 28×28 images with labels 0–9.
    func writeTinyFashionMNIST(to dir: URL, train: Int, test: Int) throws {
        func bigEndian(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        var rng = RandomSource(seed: 4)
        for (prefix, n) in [("train", train), ("t10k", test)] {
            let labels = (0..<n).map { _ in UInt8(rng.nextInt(below: 10)) }
            var images = bigEndian(0x803) + bigEndian(n) + bigEndian(28) + bigEndian(28)
            for label in labels { images += (0..<784).map { UInt8(($0 * Int(label + 1) + rng.nextInt(below: 40)) % 256) } }
            try Data(images).write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(bigEndian(0x801) + bigEndian(n) + labels).write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
    }
}

/// Starts the built `autotune` with `args` in the background, output discarded (a run a test
/// interrupts or kills); nil, after failing the test, when it cannot.
func startAutotune(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> Process? {
    guard let executable = autotuneExecutable else {
        XCTFail("autotune executable not found next to the test bundle", file: file, line: line)
        return nil
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = args
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch {
        XCTFail("could not start \(executable.path): \(error)", file: file, line: line)
        return nil
    }
    return process
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` passes; whether it held.
@discardableResult
func waitUntil(timeout: TimeInterval, interval: TimeInterval = 0.1, _ condition: () -> Bool) -> Bool {
    let start = Date()
    while Date().timeIntervalSince(start) < timeout {
        if condition() { return true }
        Thread.sleep(forTimeInterval: interval)
    }
    return condition()
}
