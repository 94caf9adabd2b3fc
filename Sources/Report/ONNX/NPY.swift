/// A float32 array in NumPy's .npy format (version 1.0): the inputs an outside runtime checks an
/// exported model on, bit for bit.
///
/// The file is the magic `\x93NUMPY`, the version bytes 1 0, the header length (uint16, little-endian),
/// a header dictionary padded with spaces and ended by a newline so that the data starts at a
/// multiple of 64 bytes, then the values little-endian in C order (numpy.org, "NEP 1 — A simple file
/// format for NumPy arrays").
///
///     npyFloat32([1, 2, 3, 4], shape: [2, 2])   // np.load gives array([[1., 2.], [3., 4.]], dtype=float32)
public func npyFloat32(_ values: [Float], shape: [Int]) -> [UInt8] {
    precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    let length = UInt16(header.utf8.count)
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8)
    bytes.reserveCapacity(bytes.count + 4 * values.count)
    for v in values { bytes += littleEndian(v.bitPattern) }
    return bytes
}
