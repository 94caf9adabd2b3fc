/// A fault in a data file: which file, and what is wrong with it, on one line.
///
///     throw DataError(path: "data.csv", reason: #"line 7, column "x3": not a number: "abc""#)
///     // prints as: data.csv: line 7, column "x3": not a number: "abc"
///
/// Every loader in this folder reports bad input with this type instead of trapping, so a study
/// can print the message and stop cleanly.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// The file (or directory) at fault, as the caller named it.
    public let path: String
    /// What is wrong, in a few words, with the offending value where there is one.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
