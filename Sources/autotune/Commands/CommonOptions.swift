import Foundation

/// Options several commands share, declared once so their spelling, help and default agree.
extension Option {
    /// `--json`: the architecture's contract is one JSON document on stdout and nothing else.
    static let json = Option.flag("json", help: "Print one JSON document on stdout and nothing else.")

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
