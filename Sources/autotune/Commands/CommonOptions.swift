import Foundation

/// Options several commands share, declared once so their spelling, help and default agree.
extension Option {
    /// `--json`: the architecture's contract is one JSON document on stdout and nothing else.
    static let json = Option.flag("json", help: "Print one JSON document on stdout and nothing else.")

    /// `--full`: every parameter of a trial in a table, none cut.
    static let full = Option.flag("full", help: "Show every parameter in the table (long lists are cut otherwise).")

    /// `--quiet`: no progress on stderr (progress is also off when stderr is not a terminal).
    static let quiet = Option.flag("quiet", help: "Do not show progress on stderr.")

    /// `--threads N`: threads the engine may use; defaults to every core of this machine.
    static let threads = Option.value(
        "threads", valueName: "N", help: "Threads the training engine may use.",
        default: String(ProcessInfo.processInfo.activeProcessorCount), defaultDescription: "all cores")

    /// `--data-dir DIR`: where the data sets (Fashion-MNIST) are read from.
    static let dataDirectory = Option.value(
        "data-dir", valueName: "DIR", help: "Directory holding the Fashion-MNIST IDX files.",
        defaultDescription: "where Debian's dataset-fashion-mnist installs them")
}

/// Throws unless `path`, when something is there already, is a regular file or a directory: an
/// output written over a device, a FIFO or a socket would replace it (or block on it).
func requireWritableOutput(_ path: String, for option: String) throws {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }   // nothing there yet
    let kind: String
    switch info.st_mode & S_IFMT {
    case S_IFREG, S_IFDIR: return
    case S_IFLNK:
        // A link is fine if what it points at is.
        guard stat(path, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFDIR: return
        default: kind = "a link to something that is not a regular file or directory"
        }
    case S_IFCHR: kind = "a character device"
    case S_IFBLK: kind = "a block device"
    case S_IFIFO: kind = "a FIFO"
    case S_IFSOCK: kind = "a socket"
    default: kind = "not a regular file or directory"
    }
    throw CLIError.invalidValue(name: option, value: path, reason: "\(kind), not a regular file or directory to write to")
}
