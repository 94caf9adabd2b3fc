import CZlib

/// Named arrays in NumPy's .npz format: a ZIP archive of `<name>.npy` files, stored without
/// compression (what `numpy.savez` writes). `np.load` gives back a mapping from each name to its
/// array.
///
/// The archive is, per file, a local header, the name and the bytes; then a central directory
/// entry per file and the end-of-central-directory record (PKWARE's APPNOTE.TXT, sections 4.3.7,
/// 4.3.12 and 4.3.16), every number little-endian, each file's CRC-32 from zlib. Without ZIP64,
/// an archive holds at most 65,535 files of less than 4 GiB in all.
///
///     let archive = try npz([("layers.1.weight", npyFloat32(w, shape: [64, 784]))])
///     // np.load("kept_weights.npz")["layers.1.weight"].shape == (64, 784)
/// - Throws: `ReportError` when the arrays are too many or too large for a ZIP without ZIP64.
func npz(_ arrays: [(name: String, npy: [UInt8])]) throws -> [UInt8] {
    let total = arrays.reduce(0) { $0 + $1.npy.count + 2 * (46 + $1.name.utf8.count + 4) }
    guard arrays.count <= Int(UInt16.max), total < Int(UInt32.max) else {
        throw ReportError("\(arrays.count) arrays of \(total) bytes do not fit a .npz archive without ZIP64")
    }
    let dosDate: UInt16 = 1 << 5 | 1                       // 1980-01-01, the earliest date ZIP holds; time 00:00
    var archive: [UInt8] = [], directory: [UInt8] = []
    for (name, npy) in arrays {
        let file = Array((name + ".npy").utf8)
        let crc = npy.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        let size = UInt32(npy.count), offset = UInt32(archive.count)
        // version needed 2.0, no flags, stored, time, date, CRC, sizes, name length, no extra field
        let common = littleEndian(UInt16(20)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0))
            + littleEndian(dosDate) + littleEndian(crc) + littleEndian(size) + littleEndian(size)
            + littleEndian(UInt16(file.count)) + littleEndian(UInt16(0))
        archive += littleEndian(UInt32(0x0403_4b50)) + common + file + npy
        // made by version 2.0, then the same fields, no comment, disk 0, no attributes, the offset
        directory += littleEndian(UInt32(0x0201_4b50)) + littleEndian(UInt16(20)) + common
            + littleEndian(UInt16(0)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0)) + littleEndian(UInt32(0))
            + littleEndian(offset) + file
    }
    let directoryOffset = UInt32(archive.count)
    archive += directory
    archive += littleEndian(UInt32(0x0605_4b50)) + littleEndian(UInt16(0)) + littleEndian(UInt16(0))
        + littleEndian(UInt16(arrays.count)) + littleEndian(UInt16(arrays.count))
        + littleEndian(UInt32(directory.count)) + littleEndian(directoryOffset) + littleEndian(UInt16(0))
    return archive
}
