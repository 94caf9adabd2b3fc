import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Finding the program and the working directory before starting a `ChildProcess`.
extension ChildProcess {
    /// The absolute working directory: `path` (relative to the current one), or the current one.
    static func absoluteDirectory(_ path: String?) throws -> String {
        let current = FileManager.default.currentDirectoryPath
        guard let path else { return current }
        let absolute = path.hasPrefix("/") ? path : current + "/" + path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw EvaluationError("working directory '\(path)' does not exist")
        }
        guard isDirectory.boolValue else { throw EvaluationError("working directory '\(path)' is not a directory") }
        return absolute
    }

    /// The file `program` names: a path (relative to `base`) when it contains '/', else the first
    /// executable file of that name on `searchPath`.
    static func locate(_ program: String, searchPath: String?, base: String) throws -> String {
        enum Kind { case missing, directory, notExecutable, executable }
        func kind(_ path: String) -> Kind {
            var info = stat()
            guard stat(path, &info) == 0 else { return .missing }
            if info.st_mode & S_IFMT == S_IFDIR { return .directory }
            return access(path, X_OK) == 0 ? .executable : .notExecutable
        }
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : base + "/" + path }
        if program.contains("/") {
            let path = absolute(program)
            switch kind(path) {
            case .executable: return path
            case .missing: throw EvaluationError("cannot run '\(program)': no such file")
            case .directory: throw EvaluationError("cannot run '\(program)': it is a directory")
            case .notExecutable: throw EvaluationError("cannot run '\(program)': not executable")
            }
        }
        var sawNotExecutable = false
        for entry in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let path = absolute((entry.isEmpty ? "." : String(entry)) + "/" + program)
            switch kind(path) {
            case .executable: return path
            case .notExecutable: sawNotExecutable = true
            case .missing, .directory: continue
            }
        }
        throw EvaluationError("cannot run '\(program)': " + (sawNotExecutable ? "not executable" : "no such file in PATH"))
    }
}

/// glibc functions the Swift Glibc module hides behind `_GNU_SOURCE`, looked up at run time.
enum GNUFunctions {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    private static let pipe2Function: Pipe2? = symbol("pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    private static let addchdirFunction: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(dlopen(nil, RTLD_NOW), name) }

    /// `pipe2(2)`; without it, `pipe(2)` then close-on-exec set on each end.
    static func pipe2(_ ends: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        if let pipe2Function { return pipe2Function(ends, flags) }
        guard pipe(ends) == 0 else { return -1 }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return 0
    }

    /// Change directory in the child before exec (glibc 2.29+); false when unavailable.
    static func addchdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Bool {
        addchdirFunction?(actions, path) == 0
    }
}
