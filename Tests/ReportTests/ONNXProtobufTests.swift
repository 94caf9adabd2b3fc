import XCTest
@testable import Report

/// The wire format against bytes worked out by hand from the protobuf encoding rules (and the
/// examples of protobuf.dev's encoding guide: 150 → 96 01, packed 3, 270, 86942 → 03 8E 02 9E A7 05).
final class ONNXProtobufTests: XCTestCase {
    private func encoded(_ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var w = ProtobufWriter()
        body(&w)
        return w.bytes
    }

    func testVarints() {
        XCTAssertEqual(encoded { $0.varint(0) }, [0x00])
        XCTAssertEqual(encoded { $0.varint(1) }, [0x01])
        XCTAssertEqual(encoded { $0.varint(127) }, [0x7F])
        XCTAssertEqual(encoded { $0.varint(128) }, [0x80, 0x01])
        XCTAssertEqual(encoded { $0.varint(300) }, [0xAC, 0x02])
        XCTAssertEqual(encoded { $0.varint(UInt64.max) }, [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testInt64FieldsIncludingNegatives() {
        XCTAssertEqual(encoded { $0.int64(1, 150) }, [0x08, 0x96, 0x01])
        XCTAssertEqual(encoded { $0.int64(3, 8) }, [0x18, 0x08])
        // Two's complement in ten bytes: -1 is 64 one bits.
        XCTAssertEqual(encoded { $0.int64(1, -1) }, [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(encoded { $0.int64(2, -2) }, [0x10, 0xFE] + [UInt8](repeating: 0xFF, count: 8) + [0x01])
        // Field 20 needs a two-byte key: 20 << 3 = 160.
        XCTAssertEqual(encoded { $0.int64(20, 7) }, [0xA0, 0x01, 0x07])
    }

    func testFloatsAndStrings() {
        XCTAssertEqual(encoded { $0.float(2, 1) }, [0x15, 0x00, 0x00, 0x80, 0x3F])
        XCTAssertEqual(encoded { $0.float(2, -2.5) }, [0x15, 0x00, 0x00, 0x20, 0xC0])
        XCTAssertEqual(encoded { $0.string(2, "testing") }, [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67])
        XCTAssertEqual(encoded { $0.string(1, "") }, [0x0A, 0x00])
    }

    func testPackedRepeatedFields() {
        XCTAssertEqual(encoded { $0.packedInt64(4, [3, 270, 86942]) }, [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
        XCTAssertEqual(encoded { $0.packedFloats(4, [1, -2]) }, [0x22, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        XCTAssertEqual(encoded { $0.packedInt64(1, [-1]) }, [0x0A, 0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(encoded { $0.packedInt64(1, []); $0.packedFloats(2, []) }, [], "empty packed fields are left out")
    }

    func testNestedMessages() {
        XCTAssertEqual(encoded { $0.message(3) { $0.int64(1, 150) } }, [0x1A, 0x03, 0x08, 0x96, 0x01])
        XCTAssertEqual(encoded { $0.message(1) { $0.message(2) { $0.string(1, "a") } } }, [0x0A, 0x05, 0x12, 0x03, 0x0A, 0x01, 0x61])
        XCTAssertEqual(encoded { $0.message(5) { _ in } }, [0x2A, 0x00])
        // A body longer than 127 bytes takes a two-byte length.
        let long = encoded { $0.message(1) { $0.bytes(1, [UInt8](repeating: 7, count: 200)) } }
        XCTAssertEqual(Array(long.prefix(5)), [0x0A, 0xCB, 0x01, 0x0A, 0xC8])
        XCTAssertEqual(long.count, 3 + 3 + 200)
    }

    func testValueInfoWithASymbolicBatch() {
        var w = ProtobufWriter()
        ONNXValueInfo("x", .float, [.symbol("N"), .value(4)]).encode(into: &w)
        // name; type { tensor_type { elem_type 1; shape { dim { dim_param "N" } dim { dim_value 4 } } } }
        XCTAssertEqual(w.bytes, [0x0A, 0x01, 0x78,
                                 0x12, 0x0F, 0x0A, 0x0D, 0x08, 0x01,
                                 0x12, 0x09, 0x0A, 0x03, 0x12, 0x01, 0x4E, 0x0A, 0x02, 0x08, 0x04])
    }

    func testAttributesAndTensors() {
        var w = ProtobufWriter()
        ONNXAttribute.ints("perm", [0, 3, 1, 2]).encode(into: &w)
        XCTAssertEqual(w.bytes, [0x0A, 0x04, 0x70, 0x65, 0x72, 0x6D, 0x42, 0x04, 0x00, 0x03, 0x01, 0x02, 0xA0, 0x01, 0x07])
        w = ProtobufWriter()
        ONNXAttribute.float("epsilon", 1).encode(into: &w)
        XCTAssertEqual(Array(w.bytes.suffix(8)), [0x15, 0x00, 0x00, 0x80, 0x3F, 0xA0, 0x01, 0x01])
        w = ProtobufWriter()
        ONNXTensor.float("w", [2], [1, 2]).encode(into: &w)
        // dims (packed) 2; data_type FLOAT; name "w"; raw_data little-endian
        XCTAssertEqual(w.bytes, [0x0A, 0x01, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77,
                                 0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40])
        w = ProtobufWriter()
        ONNXTensor.uint8("q", [], [255]).encode(into: &w)
        XCTAssertEqual(w.bytes, [0x10, 0x02, 0x42, 0x01, 0x71, 0x4A, 0x01, 0xFF], "a scalar has no dims")
        w = ProtobufWriter()
        ONNXTensor.int64("s", [2], [-1, 3]).encode(into: &w)
        XCTAssertEqual(w.bytes, [0x0A, 0x01, 0x02, 0x10, 0x07, 0x42, 0x01, 0x73, 0x4A, 0x10]
                       + [UInt8](repeating: 0xFF, count: 8) + [0x03, 0, 0, 0, 0, 0, 0, 0], "raw int64s are little-endian words")
    }

    func testModelHeaderAndOpset() {
        var graph = ONNXGraph(name: "g")
        graph.nodes = [ONNXNode("Relu", inputs: ["x"], outputs: ["y"])]
        let bytes = ONNXModel(graph: graph).serialized()
        XCTAssertEqual(Array(bytes.prefix(12)), [0x08, 0x08, 0x12, 0x08] + Array("autotune".utf8), "ir_version 8, producer")
        // graph { node { input "x" output "y" op_type "Relu" } name "g" }
        XCTAssertEqual(Array(bytes[12..<31]), [0x3A, 0x11, 0x0A, 0x0C, 0x0A, 0x01, 0x78, 0x12, 0x01, 0x79, 0x22, 0x04,
                                                0x52, 0x65, 0x6C, 0x75, 0x12, 0x01, 0x67])
        XCTAssertEqual(Array(bytes.suffix(6)), [0x42, 0x04, 0x0A, 0x00, 0x10, 0x11], "opset_import { domain \"\" version 17 }")
    }

    func testNPYHeaderAndData() {
        let bytes = npyFloat32([1, -2], shape: [2, 1])
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }"
        // 10 + 59 header characters + newline = 70 bytes, padded with 58 spaces to 128.
        XCTAssertEqual(bytes.count, 128 + 8, "the data starts at a multiple of 64")
        XCTAssertEqual(Array(bytes.prefix(10)), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00, 118, 0x00])
        XCTAssertEqual(Array(bytes[10..<(10 + header.utf8.count)]), Array(header.utf8))
        XCTAssertEqual(bytes[127], 0x0A)
        XCTAssertEqual(bytes[69], 0x20)
        XCTAssertEqual(Array(bytes.suffix(8)), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        XCTAssertTrue(String(decoding: npyFloat32([5], shape: [1]), as: UTF8.self).contains("'shape': (1,), }"), "a 1-tuple keeps its comma")
    }
}
