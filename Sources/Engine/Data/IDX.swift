/// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al. 1998), gzip-compressed or plain.
///
/// A file is a big-endian header (a magic number whose third byte is the element type, 0x08 for
/// unsigned bytes, and whose fourth is the number of dimensions, then one 32-bit size per
/// dimension) followed by the elements in row-major order.
///
///     let (count, rows, cols, pixels) = try IDX.readImages(path: "t10k-images-idx3-ubyte.gz")
///     let labels = try IDX.readLabels(path: "t10k-labels-idx1-ubyte.gz")
public enum IDX {
    /// Unsigned bytes in three dimensions: count × rows × columns.
    static let imagesMagic: UInt32 = 0x0000_0803
    /// Unsigned bytes in one dimension: count.
    static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads a file of 8-bit greyscale images.
    ///
    /// - Returns: the image count, the size of each image and the pixels, `(count, rows, cols)` row-major.
    /// - Throws: `DataError` for a missing file, a bad magic number, a truncated file or trailing data.
    public static func readImages(path: String) throws(DataError) -> (count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        let file = try CompressedFile(path: path)
        let header = try readHeader(file, magic: imagesMagic, kind: "IDX images", sizes: 3)
        let (count, rows, cols) = (header[0], header[1], header[2])
        let (perImage, overflow1) = rows.multipliedReportingOverflow(by: cols)
        let (total, overflow2) = count.multipliedReportingOverflow(by: perImage)
        guard !overflow1, !overflow2 else {
            throw DataError(path: path, reason: "implausible size \(count) × \(rows) × \(cols)")
        }
        let pixels = try readBody(file, count: total, what: "pixel bytes")
        return (count, rows, cols, pixels)
    }

    /// Reads a file of 8-bit labels.
    ///
    /// - Throws: `DataError` for a missing file, a bad magic number, a truncated file or trailing data.
    public static func readLabels(path: String) throws(DataError) -> [UInt8] {
        let file = try CompressedFile(path: path)
        let header = try readHeader(file, magic: labelsMagic, kind: "IDX labels", sizes: 1)
        return try readBody(file, count: header[0], what: "label bytes")
    }

    /// Reads and checks the magic number, then returns the `sizes` dimension sizes that follow it.
    private static func readHeader(_ file: CompressedFile, magic: UInt32, kind: String,
                                   sizes: Int) throws(DataError) -> [Int] {
        let length = 4 * (1 + sizes)
        let magicBytes = try file.read(upTo: 4)
        guard magicBytes.count == 4 else {
            throw DataError(path: file.path,
                            reason: "truncated: expected a \(length)-byte header, found \(magicBytes.count) bytes")
        }
        let found = bigEndianWord(magicBytes[...])
        guard found == magic else {
            throw DataError(path: file.path,
                            reason: "bad magic number \(hex(found)) (expected \(hex(magic)) for \(kind))")
        }
        let sizeBytes = try file.read(upTo: 4 * sizes)
        guard sizeBytes.count == 4 * sizes else {
            throw DataError(path: file.path,
                            reason: "truncated: expected a \(length)-byte header, found \(4 + sizeBytes.count) bytes")
        }
        return (0 ..< sizes).map { Int(bigEndianWord(sizeBytes[4 * $0 ..< 4 * $0 + 4])) }
    }

    /// Four bytes, most significant first, as one number.
    private static func bigEndianWord(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Reads exactly `count` bytes and checks that nothing follows them.
    private static func readBody(_ file: CompressedFile, count: Int, what: String) throws(DataError) -> [UInt8] {
        let bytes = try file.read(upTo: count)
        guard bytes.count == count else {
            throw DataError(path: file.path, reason: "truncated: expected \(count) \(what), found \(bytes.count)")
        }
        guard try !file.hasMoreData() else {
            throw DataError(path: file.path, reason: "trailing data after \(count) \(what)")
        }
        return bytes
    }

    /// `0x00000803`: eight hex digits, as magic numbers are usually written.
    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
