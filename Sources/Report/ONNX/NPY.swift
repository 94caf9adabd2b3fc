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
    var bytes = npyHeader(descr: "<f4", shape: shape)
    bytes.reserveCapacity(bytes.count + 4 * values.count)
    for v in values { bytes += littleEndian(v.bitPattern) }
    return bytes
}

/// An int32 array in the same format (`'descr': '<i4'`): class labels and token ids.
///
///     npyInt32([3, 1], shape: [2])   // np.load gives array([3, 1], dtype=int32)
public func npyInt32(_ values: [Int32], shape: [Int]) -> [UInt8] {
    precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
    var bytes = npyHeader(descr: "<i4", shape: shape)
    bytes.reserveCapacity(bytes.count + 4 * values.count)
    for v in values { bytes += littleEndian(UInt32(bitPattern: v)) }
    return bytes
}

/// The magic, version, header length and the padded header dictionary of a C-order array.
private func npyHeader(descr: String, shape: [Int]) -> [UInt8] {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    let length = UInt16(header.utf8.count)
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8)
}
