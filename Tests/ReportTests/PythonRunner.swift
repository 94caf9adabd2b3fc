import Foundation

/// A Python interpreter the export tests run generated code with: `python3` on PATH, or — for a
/// module such as torch that it lacks — the environment `make check-export` creates
/// (`$EXPORT_VENV`, by default ~/.cache/autotune/export-venv).
struct PythonRunner {
    let executable: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The first interpreter that can import `module` (any python3 when nil), or nil.
    static func find(module: String?) -> PythonRunner? {
        let environment = ProcessInfo.processInfo.environment
        let venv = environment["EXPORT_VENV"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/autotune/export-venv").path
        for candidate in ["/usr/bin/env", venv + "/bin/python"] {
            let runner = PythonRunner(executable: candidate)
            if (try? runner.run("import \(module ?? "sys")")) != nil { return runner }
        }
        return nil
    }

    /// Runs `program` (or a script file via `arguments`) in `directory`; returns stdout.
    /// - Throws: `Failure` with the exit status and the end of stderr when it fails.
    @discardableResult
    func run(_ program: String?, arguments: [String] = [], in directory: URL? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        let python = executable == "/usr/bin/env" ? ["python3"] : []
        process.arguments = python + (program.map { ["-c", $0] } ?? []) + arguments
        if let directory { process.currentDirectoryURL = directory }
        // stderr goes to a file, so that reading stdout to its end never waits on a full stderr pipe.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("python-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errorFile)) ?? Data()
        guard process.terminationStatus == 0 else {
            let tail = String(decoding: errorData, as: UTF8.self).split(separator: "\n").suffix(8).joined(separator: "\n")
            throw Failure(description: "python exited with \(process.terminationStatus):\n\(tail)")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
