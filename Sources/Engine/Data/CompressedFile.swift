import CZlib
import Foundation

/// A file read through zlib's `gzopen`/`gzread`, which inflate gzip data and pass plain files
/// through unchanged, so callers need not care which they were given.
///
///     let file = try CompressedFile(path: "train-labels-idx1-ubyte.gz")
///     let header = try file.read(upTo: 8)     // fewer bytes only at end of file
final class CompressedFile {
    /// The path as the caller gave it, for error messages.
    let path: String
    private let handle: gzFile

    /// Bytes allocated before the first read unless the caller says otherwise. Larger requests grow
    /// as data actually arrives, so a corrupt size in a header cannot force a huge allocation.
    static let defaultCapacity = 64 << 20
    /// The most bytes handed to one `gzread` call (its length is a 32-bit unsigned integer).
    private static let maximumChunk = 1 << 30

    /// Opens `path` for reading.
    ///
    /// - Throws: `DataError` with reason `no such file`, `is a directory`, or the system's reason.
    init(path: String) throws(DataError) {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw DataError(path: path, reason: "is a directory") }
        guard let handle = gzopen(path, "rb") else {
            throw DataError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        gzbuffer(handle, 1 << 18)   // 256 KiB of input per refill instead of zlib's 8 KiB
        self.handle = handle
    }

    deinit { gzclose(handle) }

    /// Reads `count` bytes, or all that remain if the file ends first.
    ///
    /// - Parameters:
    ///   - count: the most bytes to read.
    ///   - initialCapacity: bytes to allocate before the first read; more are added as data arrives.
    /// - Throws: `DataError` if the compressed data is corrupt. A short file is not an error here;
    ///   callers compare the length with what they expected and say what was missing.
    func read(upTo count: Int, initialCapacity: Int = CompressedFile.defaultCapacity) throws(DataError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(count, max(initialCapacity, 1)))
        var filled = 0
        while filled < count {
            if filled == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(count - filled, bytes.count)))
            }
            let want = min(bytes.count - filled, Self.maximumChunk)
            let got = bytes.withUnsafeMutableBytes { buffer -> Int32 in
                guard let base = buffer.baseAddress else { return 0 }
                return gzread(handle, base + filled, UInt32(want))
            }
            if got < 0 { throw DataError(path: path, reason: "corrupt gzip data: \(lastError())") }
            if got == 0 { break }
            filled += Int(got)
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// Everything from the current position to the end of the file.
    func readToEnd() throws(DataError) -> [UInt8] {
        try read(upTo: Int.max, initialCapacity: 1 << 20)
    }

    /// Whether any byte remains to be read.
    func hasMoreData() throws(DataError) -> Bool {
        try !read(upTo: 1).isEmpty
    }

    /// zlib's description of the last error on this file.
    private func lastError() -> String {
        var code: Int32 = 0
        guard let message = gzerror(handle, &code) else { return "zlib error \(code)" }
        return String(cString: message)
    }
}
