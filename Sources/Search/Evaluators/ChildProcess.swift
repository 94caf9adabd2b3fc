import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program started in its own process group with its standard streams on pipes, driven by
/// `poll(2)` from the calling thread: input is written as fast as the program takes it, stdout
/// arrives as lines, and the last lines of stderr are kept for error messages. Because every pipe
/// is serviced in one loop, a program that fills one pipe while we wait on another cannot deadlock.
///
///     let child = try ChildProcess(argv: ["python3", "train.py"], environment: env, workingDirectory: nil, input: .pipe)
///     defer { child.terminate() }
///     child.send("{\"lr\":0.1}\n", thenClose: true)
///     while case .line(let line) = child.nextLine(deadline: nil) { print(line) }
final class ChildProcess {
    enum Input { case pipe, devNull }
    enum Event: Equatable { case line(String), endOfOutput, timedOut }
    enum Termination: Equatable {
        case exited(Int32), signaled(Int32), unknown

        /// Decode a `waitpid` status (no stopped children: WUNTRACED is never asked for).
        init(waitStatus status: Int32) {
            self = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        }
    }

    let pid: pid_t
    private var input: Int32
    private var output: Int32
    private var errors: Int32
    private var pendingInput: [UInt8] = []
    private var closeInputWhenSent = false
    private var stdoutSplitter = LineSplitter()
    private var stderrSplitter = LineSplitter()
    private var lines: [String] = []
    private var nextLineIndex = 0
    /// One buffer for every read: a program may print hundreds of megabytes.
    private var readBuffer = [UInt8](repeating: 0, count: 1 << 18)
    /// The last lines the program wrote to stderr.
    private(set) var stderrTail: [String] = []
    /// How the process ended, once it has been reaped.
    private(set) var termination: Termination?
    /// Set once no process of the group can be left: signalling the id again could hit a stranger.
    private var groupGone = false
    private static let stderrLinesKept = 20
    private static let terminationGrace = 2.0

    /// Start `argv[0]` (looked up on the `PATH` of `environment` unless it contains a '/').
    /// - Throws: `EvaluationError` when the program or the working directory cannot be used.
    init(argv: [String], environment: [String: String], workingDirectory: String?, input mode: Input) throws {
        guard let program = argv.first, !program.isEmpty else { throw EvaluationError("the command is empty") }
        let directory = try ChildProcess.absoluteDirectory(workingDirectory)
        let executable = try ChildProcess.locate(program, searchPath: environment["PATH"], base: directory)

        var opened: [Int32] = []
        func makePipe() throws -> (read: Int32, write: Int32) {
            var ends: [Int32] = [-1, -1]
            guard GNUFunctions.pipe2(&ends, O_CLOEXEC) == 0 else {
                throw EvaluationError("cannot run '\(program)': cannot create a pipe (\(String(cString: strerror(errno))))")
            }
            opened += ends
            return (ends[0], ends[1])
        }
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        let stdinPipe: (read: Int32, write: Int32)?
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdinPipe = mode == .pipe ? try makePipe() : nil
            stdoutPipe = try makePipe()
            stderrPipe = try makePipe()
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
        childEnds = [stdoutPipe.write, stderrPipe.write] + (stdinPipe.map { [$0.read] } ?? [])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdinPipe {
            posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)
        if workingDirectory != nil, !GNUFunctions.addchdir(&actions, directory) {
            for fd in opened { close(fd) }
            childEnds = []
            throw EvaluationError("cannot run '\(program)' in working directory '\(directory)': this C library cannot change directory in posix_spawn")
        }

        // Own process group (so a timeout can stop grandchildren too), no blocked signals and
        // default dispositions, whatever this process has set up.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        let arguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in arguments + variables { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, arguments, variables)
        guard status == 0 else {
            for fd in [stdoutPipe.read, stderrPipe.read] + (stdinPipe.map { [$0.write] } ?? []) { close(fd) }
            throw EvaluationError("cannot run '\(program)': \(String(cString: strerror(status)).lowercased())")
        }
        pid = child
        input = stdinPipe?.write ?? -1
        output = stdoutPipe.read
        errors = stderrPipe.read
        for fd in [input, output, errors] where fd >= 0 { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
    }

    deinit { terminate() }

    // MARK: Talking to the program

    /// Queue `text` for the program's stdin; with `thenClose` its stdin is closed once it is written.
    func send(_ text: String, thenClose: Bool) {
        guard input >= 0 else { return }
        pendingInput += Array(text.utf8)
        closeInputWhenSent = thenClose
        writeInput()
    }

    /// The next line of stdout, `.endOfOutput` when stdout is closed (or the program exited and
    /// what it wrote has been read), `.timedOut` once `deadline` (a `now()` value) has passed.
    func nextLine(deadline: Double?) -> Event {
        while true {
            // The deadline holds whatever the program prints: it is checked before every line.
            if let deadline, ChildProcess.now() >= deadline { return .timedOut }
            if nextLineIndex < lines.count {
                let line = lines[nextLineIndex]
                nextLineIndex += 1
                if nextLineIndex == lines.count { lines.removeAll(keepingCapacity: true); nextLineIndex = 0 }
                return .line(line)
            }
            if output < 0 { return .endOfOutput }
            let remaining = deadline.map { $0 - ChildProcess.now() }
            if let remaining, remaining <= 0 { return .timedOut }
            if reap() {
                // Whatever it wrote is in the pipes now; a grandchild holding them open is ignored.
                drain()
                continue
            }
            // Wake up now and then: a grandchild may hold stdout open after the program exits.
            pump(wait: min(remaining ?? 0.1, 0.1))
        }
    }

    /// Wait for the program to exit while still reading its pipes; false if `deadline` passes first.
    func waitForExit(deadline: Double?) -> Bool {
        var pause = 0.0001
        while !reap() {
            let remaining = deadline.map { $0 - ChildProcess.now() }
            if let remaining, remaining <= 0 { return false }
            pump(wait: min(pause, remaining ?? pause))
            pause = min(pause * 2, 0.05)
        }
        return true
    }

    /// Whether the program has exited; reaps it (once) when it has.
    @discardableResult
    func reap() -> Bool {
        if termination != nil { return true }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            termination = Termination(waitStatus: status)
        } else if result < 0 && errno == ECHILD {
            termination = .unknown
        }
        return termination != nil
    }

    /// The last non-empty line of stderr, shortened to 200 characters.
    var lastErrorLine: String? {
        guard let line = stderrTail.last(where: { $0.contains { !$0.isWhitespace } }) else { return nil }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "…" : trimmed
    }

    /// Stop the whole process group: SIGTERM, then SIGKILL after a grace period, and reap the
    /// program. Also stops what a finished program left running in its group. Idempotent.
    func terminate() {
        closeInput()
        if !groupGone {
            kill(-pid, SIGTERM)
            let deadline = ChildProcess.now() + ChildProcess.terminationGrace
            var pause = 0.001
            while true {
                if reap() && !groupHasLiveMembers() { groupGone = true; break }
                if ChildProcess.now() >= deadline { break }
                pump(wait: pause)
                pause = min(pause * 2, 0.05)
            }
            if !groupGone { kill(-pid, SIGKILL) }
        }
        while termination == nil {
            var status: Int32 = 0
            let result = waitpid(pid, &status, 0)
            if result == pid { termination = Termination(waitStatus: status) }
            else if result < 0 && errno != EINTR { termination = .unknown }
        }
        groupGone = true
        for fd in [output, errors] where fd >= 0 { close(fd) }
        output = -1
        errors = -1
    }

    /// Whether a process of the group is still running. Zombies do not count: where no init
    /// process reaps orphans (a container), they would otherwise stretch every grace period.
    private func groupHasLiveMembers() -> Bool {
        if kill(-pid, 0) != 0 && errno == ESRCH { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        for entry in entries where entry.first?.isNumber == true {
            // /proc/PID/stat: "pid (command) state ppid pgrp ..."; the command may hold spaces.
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let commandEnd = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: commandEnd)...].split(separator: " ")
            if fields.count > 2, fields[2] == "\(pid)", fields[0] != "Z", fields[0] != "X" { return true }
        }
        return false
    }

    /// Close the program's stdin now (it reads end of file).
    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
        pendingInput = []
    }

    /// A monotonic clock in seconds, for deadlines.
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    // MARK: Pipes

    /// Wait up to `wait` seconds for a pipe to be ready, then service every ready one.
    private func pump(wait: Double) {
        var fds: [pollfd] = []
        if input >= 0 && !pendingInput.isEmpty { fds.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
        for fd in [output, errors] where fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        let wait = max(0, min(wait, 3600))
        if fds.isEmpty {
            usleep(UInt32(wait * 1e6))
            return
        }
        let milliseconds = Int32((wait * 1000).rounded(.up))
        guard poll(&fds, nfds_t(fds.count), milliseconds) > 0 else { return }
        for ready in fds where ready.revents != 0 {
            if ready.fd == input {
                writeInput()
            } else {
                // Read what is there now, up to 4 MiB, before polling again.
                var chunks = 0
                while chunks < 16, readChunk(ready.fd) { chunks += 1 }
            }
        }
    }

    /// Read what is waiting on stdout and stderr now, then stop listening to them.
    private func drain() {
        for fd in [output, errors] where fd >= 0 {
            var chunks = 0
            while chunks < 64, readChunk(fd) { chunks += 1 }
        }
        for fd in [output, errors] where fd >= 0 { finish(fd) }
    }

    /// Read one chunk from stdout or stderr; false when nothing more is available now.
    @discardableResult
    private func readChunk(_ fd: Int32) -> Bool {
        let (n, error) = readBuffer.withUnsafeMutableBytes { (read(fd, $0.baseAddress, $0.count), errno) }
        if n < 0 && (error == EAGAIN || error == EINTR) { return false }
        if n <= 0 { finish(fd); return false }
        let chunk = readBuffer[..<n]
        if fd == output { lines += stdoutSplitter.append(chunk) } else { keepErrors(stderrSplitter.append(chunk)) }
        return true
    }

    /// End of stdout or stderr: pass on the unterminated last line and close our end.
    private func finish(_ fd: Int32) {
        if fd == output {
            if let last = stdoutSplitter.finish() { lines.append(last) }
            output = -1
        } else {
            if let last = stderrSplitter.finish() { keepErrors([last]) }
            errors = -1
        }
        close(fd)
    }

    private func keepErrors(_ new: [String]) {
        stderrTail += new
        if stderrTail.count > ChildProcess.stderrLinesKept { stderrTail.removeFirst(stderrTail.count - ChildProcess.stderrLinesKept) }
    }

    /// Write as much pending input as the pipe takes without blocking. A program that exited or
    /// closed its stdin gets nothing more, and its EPIPE must not kill this process with SIGPIPE.
    private func writeInput() {
        guard input >= 0 else { return }
        if !pendingInput.isEmpty {
            let (written, error) = pendingInput.withUnsafeBytes { ChildProcess.writeIgnoringSIGPIPE(input, $0) }
            if written > 0 {
                pendingInput.removeFirst(written)
            } else if written < 0 && error != EAGAIN && error != EINTR {
                closeInput()
                return
            }
        }
        if pendingInput.isEmpty && closeInputWhenSent { closeInput() }
    }

    /// `write(2)` with SIGPIPE blocked on this thread; a SIGPIPE it raises is consumed.
    private static func writeIgnoringSIGPIPE(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (Int, Int32) {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        var pending = sigset_t()
        sigpending(&pending)
        let alreadyPending = sigismember(&pending, SIGPIPE) == 1
        let written = write(fd, bytes.baseAddress, bytes.count)
        let error = errno
        if written < 0 && error == EPIPE && !alreadyPending {
            var immediately = timespec()
            _ = sigtimedwait(&pipeSignal, nil, &immediately)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        return (written, error)
    }
}

/// Splits a byte stream into lines (without their "\n" or "\r\n"), decoding UTF-8 leniently.
/// A line is kept up to `maxLineBytes`; the rest of a longer one is dropped and the line ends
/// with a note saying how much was cut.
struct LineSplitter {
    static let maxLineBytes = 1 << 20
    private var partial: [UInt8] = []
    private var dropped = 0

    /// The lines `bytes` completes.
    mutating func append(_ bytes: ArraySlice<UInt8>) -> [String] {
        var complete: [String] = []
        var start = bytes.startIndex
        while let newline = LineSplitter.newline(in: bytes, from: start) {
            keep(bytes[start..<newline])
            complete.append(line())
            start = newline + 1
        }
        keep(bytes[start...])
        return complete
    }

    /// The index of the next "\n" at or after `start` (memchr: megabytes of output per call).
    private static func newline(in bytes: ArraySlice<UInt8>, from start: Int) -> Int? {
        let offset = start - bytes.startIndex
        return bytes.withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) -> Int? in
            guard offset < buffer.count, let base = buffer.baseAddress else { return nil }
            guard let hit = memchr(UnsafeRawPointer(base + offset), 10, buffer.count - offset) else { return nil }
            let position: Int = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            return bytes.startIndex + position
        }
    }

    /// The unterminated last line, if any, at end of stream.
    mutating func finish() -> String? {
        partial.isEmpty && dropped == 0 ? nil : line()
    }

    private mutating func keep(_ bytes: ArraySlice<UInt8>) {
        let room = max(0, LineSplitter.maxLineBytes - partial.count)
        partial += bytes.prefix(room)
        dropped += max(0, bytes.count - room)
    }

    private mutating func line() -> String {
        defer { partial.removeAll(keepingCapacity: partial.count <= 1 << 16); dropped = 0 }
        let end = dropped == 0 && partial.last == UInt8(ascii: "\r") ? partial.count - 1 : partial.count
        let text = String(decoding: partial[..<end], as: UTF8.self)
        return dropped == 0 ? text : text + " … [line cut: \(dropped) more bytes not kept]"
    }
}
