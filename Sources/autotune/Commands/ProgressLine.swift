import Foundation
import Search

/// The live line a long search keeps on stderr: trials done/total, failures, best value or
/// hypervolume, time left. Drawn only when stderr is a terminal and not `--quiet`.
final class ProgressLine {
    private let enabled: Bool
    private var drawn = false

    init(quiet: Bool) { enabled = !quiet && isatty(2) != 0 }

    func show(_ p: StudyRunner.Progress) {
        guard enabled else { return }
        write("\r\u{1B}[K" + Self.text(p))
        drawn = true
    }

    func note(_ text: String) {
        guard enabled else { return }
        write((drawn ? "\r\u{1B}[K" : "") + text + "\n")
        drawn = false
    }

    func finish() {
        if enabled && drawn { write("\n") }
        drawn = false
    }

    /// A warning on its own line (whether or not the progress line is drawn), the line redrawn
    /// after it at the next update.
    func warn(_ text: String) {
        write((enabled && drawn ? "\r\u{1B}[K" : "") + "autotune: warning: " + text + "\n")
        drawn = false
    }

    /// `trials 12/50 · 1 failed · 2 pruned · 1 stale · best 0.8712 · 3m10s left`
    static func text(_ p: StudyRunner.Progress) -> String {
        var parts = ["trials \(p.finished)" + (p.total.map { "/\($0)" } ?? "")]
        if p.failed > 0 { parts.append("\(p.failed) failed") }
        if p.pruned > 0 { parts.append("\(p.pruned) pruned") }
        if p.stale > 0 { parts.append("\(p.stale) stale") }
        if let b = p.best { parts.append("best \(humanNumber(b))") }
        if let hv = p.hypervolume { parts.append("hypervolume \(humanNumber(hv))") }
        var left: Double?
        if let total = p.total, p.finishedThisRun > 0, total > p.finished {
            left = p.elapsed / Double(p.finishedThisRun) * Double(total - p.finished)
        }
        if let deadline = p.deadline {
            let untilDeadline = max(0, deadline.timeIntervalSinceNow)
            left = min(left ?? untilDeadline, untilDeadline)
        }
        if let left { parts.append(duration(left) + " left") }
        return parts.joined(separator: " · ")
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t >= 3600 { return "\(t / 3600)h\(String(format: "%02d", t % 3600 / 60))m" }
        if t >= 60 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
        return "\(t)s"
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
