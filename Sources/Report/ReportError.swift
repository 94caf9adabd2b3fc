/// Why a plot, a report or an export could not be made: one line naming what was asked for and
/// what is wrong, for the executable to print with exit status 2 (bad input) or 1 (a tool failed).
public struct ReportError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The request cannot be met from what the study holds (no such trial, an empty study).
        case input
        /// An outside program the output needs is missing or failed.
        case tool
    }

    public var kind: Kind
    public var message: String

    public init(_ message: String, kind: Kind = .input) {
        self.message = message; self.kind = kind
    }

    public var description: String { message }
}
