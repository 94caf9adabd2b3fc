/// A protocol-buffers wire-format writer: the few encodings an ONNX file needs.
///
/// A message is a sequence of fields, each a key (field number << 3 | wire type) then a value:
/// a varint (wire type 0), a 64-bit or 32-bit little-endian word (1, 5) or a length-prefixed run of
/// bytes (2) holding a string, a nested message or a packed repeated scalar
/// (protobuf.dev/programming-guides/encoding).
///
///     var m = ProtobufWriter()
///     m.int64(1, 8)                  // 08 08
///     m.string(2, "autotune")        // 12 08 61 75 74 6f 74 75 6e 65
///     m.message(7) { $0.int64(1, 150) }
public struct ProtobufWriter {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// The wire types a key can announce.
    enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    // MARK: Scalars

    /// Base-128 little-endian groups of 7 bits, the high bit set on every byte but the last.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ type: WireType) {
        precondition(field > 0, "protobuf field numbers start at 1, got \(field)")
        varint(UInt64(field) << 3 | type.rawValue)
    }

    /// An int64 field (also int32 and enums: a negative value takes ten bytes, as two's complement).
    public mutating func int64(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A float field: four little-endian bytes of the IEEE 754 pattern.
    public mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        fixed32(value.bitPattern)
    }

    mutating func fixed32(_ word: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
    }

    // MARK: Length-delimited

    /// A bytes field.
    public mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    /// A string field, UTF-8.
    public mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// A nested message written by `body`.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytes(field, inner.bytes)
    }

    /// A packed repeated int64 field: one length-prefixed run of varints (nothing when empty).
    public mutating func packedInt64(_ field: Int, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        var run = ProtobufWriter()
        for v in values { run.varint(UInt64(bitPattern: v)) }
        bytes(field, run.bytes)
    }

    /// A packed repeated float field: one length-prefixed run of 4-byte words (nothing when empty).
    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        guard !values.isEmpty else { return }
        var run = ProtobufWriter()
        run.bytes.reserveCapacity(4 * values.count)
        for v in values { run.fixed32(v.bitPattern) }
        bytes(field, run.bytes)
    }
}
