/// A problem with a study store: the file, what went wrong and why, on one line.
///
///     results/autotune.sqlite: cannot open the store: file is not a database
///     results/autotune.sqlite: trial 7 of study 1 is FAIL, not RUNNING: cannot finish it
///
/// `kind` lets a caller react to the expected cases (a trial that went STALE while its worker was
/// still at it is `.leaseExpired`) without parsing the text.
public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The file cannot be opened or created as a store (missing permissions, a directory,
        /// not an SQLite database, an SQLite database of another program).
        case cannotOpen
        /// The store's server refused the connection or could not be reached (nothing listening,
        /// a wrong password, an unknown database, too many clients).
        case cannotConnect
        /// The store was written by a newer autotune whose schema this one does not understand.
        case schemaTooNew
        /// No study or trial with that id, name or number.
        case notFound
        /// The trial is no longer RUNNING (finished, or told already).
        case notRunning
        /// The trial went STALE while its worker still held it (the worker's lease expired): the
        /// late report was refused and kept as a note on the trial.
        case leaseExpired
        /// An argument no store could accept (finishing a trial as RUNNING, a negative timeout).
        case invalidArgument
        /// A stored value cannot be read back (edited by hand or by another program).
        case corrupt
        /// Other processes kept an SQLite store locked past its busy timeout and the retries
        /// that follow it.
        case busy
        /// Any other failure reported by the database (a lost connection that could not be made
        /// again, disk full, I/O error).
        case database
    }

    /// The store's file (or server address, for another backend).
    public let file: String
    public let kind: Kind
    public let reason: String

    public init(file: String, kind: Kind, reason: String) {
        self.file = file
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
