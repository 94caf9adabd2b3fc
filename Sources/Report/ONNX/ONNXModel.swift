/// The parts of an ONNX file (onnx.proto, IR version 8) that an exported network uses, each able
/// to write itself as a protobuf message.
///
///     var graph = ONNXGraph(name: "mlp")
///     graph.inputs = [ONNXValueInfo("input", .float, [.symbol("N"), .value(784)])]
///     graph.nodes = [ONNXNode("Relu", inputs: ["input"], outputs: ["logits"])]
///     let bytes = ONNXModel(graph: graph).serialized()
public struct ONNXModel {
    /// IR version 8 (2021-07-30), the one ONNX 1.10–1.12 write; opset 17 is its default domain.
    public var irVersion: Int64 = 8
    public var opsetVersion: Int64 = 17
    public var producerName = "autotune"
    public var graph: ONNXGraph

    public init(graph: ONNXGraph) { self.graph = graph }

    /// The ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8) with the
    /// default domain "" (OperatorSetIdProto: domain 1, version 2).
    public func serialized() -> [UInt8] {
        var m = ProtobufWriter()
        m.int64(1, irVersion)
        m.string(2, producerName)
        m.message(7) { graph.encode(into: &$0) }
        m.message(8) { $0.string(1, ""); $0.int64(2, opsetVersion) }
        return m.bytes
    }
}

/// A GraphProto: nodes in execution order, constant tensors, and the typed inputs and outputs.
public struct ONNXGraph {
    public var name: String
    public var nodes: [ONNXNode] = []
    public var initializers: [ONNXTensor] = []
    public var inputs: [ONNXValueInfo] = []
    public var outputs: [ONNXValueInfo] = []

    public init(name: String) { self.name = name }

    /// node (1), name (2), initializer (5), input (11), output (12).
    func encode(into w: inout ProtobufWriter) {
        for n in nodes { w.message(1) { n.encode(into: &$0) } }
        w.string(2, name)
        for t in initializers { w.message(5) { t.encode(into: &$0) } }
        for i in inputs { w.message(11) { i.encode(into: &$0) } }
        for o in outputs { w.message(12) { o.encode(into: &$0) } }
    }
}

/// A NodeProto: one operator of the default domain applied to named values.
public struct ONNXNode: Equatable {
    public var opType: String
    public var inputs: [String]
    public var outputs: [String]
    public var name: String
    public var attributes: [ONNXAttribute]

    public init(_ opType: String, inputs: [String], outputs: [String], name: String = "", attributes: [ONNXAttribute] = []) {
        self.opType = opType; self.inputs = inputs; self.outputs = outputs; self.name = name; self.attributes = attributes
    }

    /// input (1), output (2), name (3), op_type (4), attribute (5).
    func encode(into w: inout ProtobufWriter) {
        for i in inputs { w.string(1, i) }
        for o in outputs { w.string(2, o) }
        if !name.isEmpty { w.string(3, name) }
        w.string(4, opType)
        for a in attributes { w.message(5) { a.encode(into: &$0) } }
    }
}

/// An AttributeProto of one of the kinds the exporter writes.
public struct ONNXAttribute: Equatable {
    public enum Value: Equatable {
        case int(Int64), float(Float), ints([Int64])
    }

    public var name: String
    public var value: Value

    public init(_ name: String, _ value: Value) { self.name = name; self.value = value }
    public static func int(_ name: String, _ v: Int) -> ONNXAttribute { ONNXAttribute(name, .int(Int64(v))) }
    public static func float(_ name: String, _ v: Float) -> ONNXAttribute { ONNXAttribute(name, .float(v)) }
    public static func ints(_ name: String, _ v: [Int]) -> ONNXAttribute { ONNXAttribute(name, .ints(v.map(Int64.init))) }

    /// name (1), then f (2), i (3) or ints (8, packed), and type (20): FLOAT 1, INT 2, INTS 7.
    func encode(into w: inout ProtobufWriter) {
        w.string(1, name)
        switch value {
        case .float(let f): w.float(2, f); w.int64(20, 1)
        case .int(let i): w.int64(3, i); w.int64(20, 2)
        case .ints(let list): w.packedInt64(8, list); w.int64(20, 7)
        }
    }
}

/// TensorProto.DataType codes of the element types used.
public enum ONNXElementType: Int64, Equatable {
    case float = 1, uint8 = 2, int64 = 7, double = 11

    var byteWidth: Int {
        switch self {
        case .uint8: return 1
        case .float: return 4
        case .int64, .double: return 8
        }
    }
}

/// A TensorProto holding a constant (an initializer): dims, element type and little-endian raw data.
public struct ONNXTensor: Equatable {
    public var name: String
    public var elementType: ONNXElementType
    public var dims: [Int]
    /// The values as bytes, row-major, little-endian.
    public var rawData: [UInt8]

    public init(name: String, elementType: ONNXElementType, dims: [Int], rawData: [UInt8]) {
        precondition(rawData.count == dims.reduce(1, *) * elementType.byteWidth,
                     "\(name): \(rawData.count) bytes for \(dims) of \(elementType)")
        self.name = name; self.elementType = elementType; self.dims = dims; self.rawData = rawData
    }

    public static func float(_ name: String, _ dims: [Int], _ values: [Float]) -> ONNXTensor {
        ONNXTensor(name: name, elementType: .float, dims: dims, rawData: values.flatMap { littleEndian($0.bitPattern) })
    }

    public static func double(_ name: String, _ dims: [Int], _ values: [Double]) -> ONNXTensor {
        ONNXTensor(name: name, elementType: .double, dims: dims, rawData: values.flatMap { littleEndian($0.bitPattern) })
    }

    public static func int64(_ name: String, _ dims: [Int], _ values: [Int64]) -> ONNXTensor {
        ONNXTensor(name: name, elementType: .int64, dims: dims, rawData: values.flatMap { littleEndian(UInt64(bitPattern: $0)) })
    }

    public static func uint8(_ name: String, _ dims: [Int], _ values: [UInt8]) -> ONNXTensor {
        ONNXTensor(name: name, elementType: .uint8, dims: dims, rawData: values)
    }

    /// The float values of a `.float` tensor (for inspection).
    public var floats: [Float] {
        precondition(elementType == .float, "\(name) is \(elementType), not float")
        return stride(from: 0, to: rawData.count, by: 4).map { i in
            Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(rawData[i + $1]) << UInt32(8 * $1) })
        }
    }

    /// dims (1, packed), data_type (2), name (8), raw_data (9).
    func encode(into w: inout ProtobufWriter) {
        w.packedInt64(1, dims.map(Int64.init))
        w.int64(2, elementType.rawValue)
        w.string(8, name)
        w.bytes(9, rawData)
    }
}

/// The bytes of an unsigned word, least significant first.
func littleEndian<T: FixedWidthInteger & UnsignedInteger>(_ word: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: word >> T(8 * $0)) }
}

/// One dimension of a value's shape: a number, or a name standing for a size known at run time.
public enum ONNXDimension: Equatable {
    case value(Int)
    case symbol(String)
}

/// A ValueInfoProto: a graph input's or output's name, element type and shape.
public struct ONNXValueInfo: Equatable {
    public var name: String
    public var elementType: ONNXElementType
    public var shape: [ONNXDimension]

    public init(_ name: String, _ elementType: ONNXElementType, _ shape: [ONNXDimension]) {
        self.name = name; self.elementType = elementType; self.shape = shape
    }

    /// name (1), type (2): TypeProto.tensor_type (1) = {elem_type (1), shape (2)}; the shape's
    /// dims (1) each a dim_value (1) or a dim_param (2).
    func encode(into w: inout ProtobufWriter) {
        w.string(1, name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int64(1, elementType.rawValue)
                tensor.message(2) { shape in
                    for d in self.shape {
                        shape.message(1) { dim in
                            switch d {
                            case .value(let v): dim.int64(1, Int64(v))
                            case .symbol(let s): dim.string(2, s)
                            }
                        }
                    }
                }
            }
        }
    }
}
