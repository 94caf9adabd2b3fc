import XCTest
import Compression
import Engine
@testable import Report

/// The exported graph's structure for tiny models: operators in order, initializer shapes and
/// values, layouts and refusals. (ONNX Runtime's agreement with the engine is `make check-onnx`.)
final class ONNXExporterTests: XCTestCase {
    private func model(_ spec: ArchitectureSpec, _ shape: [Int], classes: Int) throws -> Model {
        try Model(spec: spec, inputShape: shape, classes: classes, context: ExecutionContext(), seed: 7)
    }

    private func initializer(_ g: ONNXGraph, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> ONNXTensor {
        try XCTUnwrap(g.initializers.first { $0.name == name }, "no initializer \(name)", file: file, line: line)
    }

    func testMLPWithGELU() throws {
        let m = try model(.mlp(MLPSpec(widths: [4], activation: .gelu, dropout: 0.5)), [3, 3, 1], classes: 2)
        let g = try ONNXExporter.graph(of: m)
        XCTAssertEqual(g.nodes.map(\.opType), ["Flatten", "Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Gemm"],
                       "GELU as 0.5·x·(1 + erf(x/√2)); dropout leaves no node")
        XCTAssertEqual(g.inputs, [ONNXValueInfo("input", .float, [.symbol("N"), .value(3), .value(3), .value(1)])])
        XCTAssertEqual(g.outputs, [ONNXValueInfo("logits", .float, [.symbol("N"), .value(2)])])
        XCTAssertEqual(g.nodes.last?.outputs, ["logits"])
        XCTAssertEqual(g.nodes[1].attributes, [.int("transB", 1)])
        let fc0 = try XCTUnwrap(m.network.layers[1] as? Linear)
        let w = try initializer(g, "fc0.weight")
        XCTAssertEqual(w.dims, [4, 9])
        XCTAssertEqual(w.floats, fc0.weight.value.array, "the engine's (out, in) weight as is")
        XCTAssertEqual(try initializer(g, "classifier.weight").dims, [2, 4])
        XCTAssertEqual(try initializer(g, "classifier.bias").dims, [2])
        XCTAssertEqual(g.nodes[1].inputs, ["flatten.Flatten", "fc0.weight", "fc0.bias"])
    }

    func testMLPNormsAndActivations() throws {
        let batch = try ONNXExporter.graph(of: model(.mlp(MLPSpec(widths: [5], activation: .silu, norm: .batch)), [6], classes: 3))
        XCTAssertEqual(batch.nodes.map(\.opType), ["Gemm", "BatchNormalization", "Sigmoid", "Mul", "Gemm"],
                       "features need no Flatten")
        XCTAssertEqual(try initializer(batch, "fc0.bn.running_mean").floats, [0, 0, 0, 0, 0], "statistics as the engine starts them")
        XCTAssertEqual(try initializer(batch, "fc0.bn.running_var").floats, [1, 1, 1, 1, 1])
        XCTAssertEqual(batch.inputs.first?.shape, [.symbol("N"), .value(6)])
        let layer = try ONNXExporter.graph(of: model(.mlp(MLPSpec(widths: [5], activation: .tanh, norm: .layer)), [6], classes: 3))
        XCTAssertEqual(layer.nodes.map(\.opType), ["Gemm", "LayerNormalization", "Tanh", "Gemm"])
        XCTAssertEqual(layer.nodes[1].attributes, [.int("axis", -1), .float("epsilon", 1e-5)])
    }

    func testCNNTransposesOnceAndFlattensChannelsLast() throws {
        let spec = CNNSpec(stages: [CNNStage(channels: 2, kernel: 3, batchnorm: true, pool: .max)], head: [], activation: .relu)
        let m = try model(.cnn(spec), [4, 4, 1], classes: 3)
        let g = try ONNXExporter.graph(of: m)
        XCTAssertEqual(g.nodes.map(\.opType), ["Transpose", "Conv", "BatchNormalization", "Relu", "MaxPool", "Transpose", "Flatten", "Gemm"])
        XCTAssertEqual(g.nodes[0].attributes, [.ints("perm", [0, 3, 1, 2])])
        XCTAssertEqual(g.nodes[5].attributes, [.ints("perm", [0, 2, 3, 1])])
        XCTAssertEqual(g.nodes[1].attributes, [.ints("kernel_shape", [3, 3]), .ints("strides", [1, 1]), .ints("pads", [1, 1, 1, 1])])
        XCTAssertEqual(g.nodes[1].inputs.count, 2, "a convolution before batch norm has no bias")
        XCTAssertEqual(g.nodes[4].attributes, [.ints("kernel_shape", [2, 2]), .ints("strides", [2, 2]), .ints("pads", [0, 0, 0, 0])])
        // OIHW from (kh, kw, cin, cout): w[o][0][ky][kx] = engine[ky][kx][0][o].
        let conv = try XCTUnwrap(m.network.layers[0] as? Conv2d)
        let engine = conv.weight.value.array, w = try initializer(g, "stage0.block0.conv.weight")
        XCTAssertEqual(w.dims, [2, 1, 3, 3])
        for o in 0..<2 { for ky in 0..<3 { for kx in 0..<3 {
            XCTAssertEqual(w.floats[(o * 3 + ky) * 3 + kx], engine[(ky * 3 + kx) * 2 + o])
        } } }
        XCTAssertEqual(try initializer(g, "classifier.weight").dims, [3, 8])
    }

    func testDepthwiseResidualAndGlobalPooling() throws {
        let stage = CNNStage(channels: 2, blocks: 2, kernel: 3, depthwise: true, residual: true, pool: .avg)
        let m = try model(.cnn(CNNSpec(stages: [stage], activation: .gelu, globalPool: true)), [4, 4, 2], classes: 3)
        let g = try ONNXExporter.graph(of: m)
        let ops = g.nodes.map(\.opType)
        XCTAssertEqual(ops.filter { $0 == "Transpose" }.count, 1, "\(ops)")
        XCTAssertEqual(ops.filter { $0 == "Conv" }.count, 6, "a depthwise and a pointwise Conv per separable conv")
        XCTAssertEqual(ops.filter { $0 == "Add" }.count, 3 + 1, "one per GELU and the skip connection")
        XCTAssertEqual(Array(ops.suffix(4)), ["AveragePool", "GlobalAveragePool", "Flatten", "Gemm"])
        let depthwise = try XCTUnwrap(g.nodes.first { $0.opType == "Conv" })
        XCTAssertTrue(depthwise.attributes.contains(.int("group", 2)), "\(depthwise.attributes)")
        XCTAssertEqual(try initializer(g, "stage0.block0.dsconv.depthwise.weight").dims, [2, 1, 3, 3])
        XCTAssertEqual(try initializer(g, "stage0.block0.dsconv.pointwise.weight").dims, [2, 2, 1, 1])
        let add = try XCTUnwrap(g.nodes.first { $0.name.hasPrefix("stage0.block1.Add") })
        let body = try XCTUnwrap(g.nodes.first { $0.name.hasPrefix("stage0.block1.a") })
        XCTAssertEqual(add.inputs.first, body.inputs.first, "the skip connection adds the block's input")
    }

    func testInt8LayersUseIntegerProducts() throws {
        let m = try model(.mlp(MLPSpec(widths: [4])), [3, 3, 1], classes: 2)
        let static8 = AffineQuantization(scale: [0.05], zeroPoint: [-3], qmin: -128, qmax: 127)
        let network = try NetworkSurgery.rebuild(m.network) { layer -> Layer? in
            guard let linear = layer as? Linear else { return nil }
            return try QuantizedLinear(linear, input: linear.name == "fc0" ? .calibrated(static8) : .dynamic)
        }
        let q = try Model(network: network, spec: m.spec, inputShape: m.inputShape, classes: 2, context: m.context)
        let g = try ONNXExporter.graph(of: q)
        let ops = g.nodes.map(\.opType)
        XCTAssertEqual(Array(ops.prefix(12)), ["Flatten", "Div", "Clip", "Round", "Add", "Cast", "MatMulInteger", "Cast", "Mul", "Add", "Relu", "ReduceMin"])
        XCTAssertEqual(ops.filter { $0 == "MatMulInteger" }.count, 2)
        XCTAssertEqual(ops.last, "Add")
        let fc0 = try XCTUnwrap(network.layers[1] as? QuantizedLinear)
        let codes = try initializer(g, "fc0.weight_codes")
        XCTAssertEqual(codes.elementType, .uint8)
        XCTAssertEqual(codes.dims, [9, 4], "(in, out)")
        for o in 0..<4 { for i in 0..<9 { XCTAssertEqual(Int(codes.rawData[i * 4 + o]), Int(fc0.weightCodes[o * 9 + i]) + 128) } }
        XCTAssertEqual(try initializer(g, "fc0.weight_zero_point").rawData, [128])
        XCTAssertEqual(try initializer(g, "fc0.input_zero_point").rawData, [125], "zero point −3 shifted by 128")
        XCTAssertEqual(try initializer(g, "fc0.output_scale").floats, fc0.weightScales.map { $0 * 0.05 })
        XCTAssertNotNil(g.initializers.first { $0.name == "classifier.weight_scale" }, "a dynamic layer scales in the graph")
    }

    func testSixteenBitRoundingCastsAfterEveryLayer() throws {
        let m = try model(.mlp(MLPSpec(widths: [4])), [5], classes: 2)
        let g = try ONNXExporter.graph(of: m, activationRounding: .bf16)
        XCTAssertEqual(g.nodes.map(\.opType), ["Cast", "Cast", "Gemm", "Cast", "Cast", "Relu", "Cast", "Cast", "Gemm", "Cast", "Cast"],
                       "the engine rounds the output of every layer, the Flatten's too")
        XCTAssertEqual(g.nodes[0].attributes, [.int("to", 16)])
        XCTAssertEqual(g.nodes[1].attributes, [.int("to", 1)])
        XCTAssertThrowsError(try ONNXExporter.graph(of: m, activationRounding: .tf32)) { error in
            XCTAssertEqual((error as? ReportError)?.message.hasPrefix("onnx export: TF32"), true, "\(error)")
        }
    }

    func testViTPatchesAttentionAndPooling() throws {
        let m = try model(.vit(ViTSpec(patch: 2, dim: 8, depth: 1, heads: 2, mlpRatio: 2)), [4, 4, 1], classes: 3)
        let g = try ONNXExporter.graph(of: m)
        let ops = g.nodes.map(\.opType)
        XCTAssertEqual(Array(ops.prefix(6)), ["Reshape", "Transpose", "Reshape", "MatMul", "Add", "Add"], "patches, projection, bias, positions")
        XCTAssertEqual(g.nodes[0].inputs[1], "patch_embed.grid_shape")
        XCTAssertEqual(try initializer(g, "patch_embed.grid_shape").rawData.count, 6 * 8)
        XCTAssertEqual(g.nodes[1].attributes, [.ints("perm", [0, 1, 3, 2, 4, 5])])
        XCTAssertEqual(try initializer(g, "patch_embed.weight_t").dims, [4, 8])
        XCTAssertEqual(try initializer(g, "patch_embed.positions").dims, [4, 8])
        XCTAssertEqual(ops.filter { $0 == "Softmax" }.count, 1)
        XCTAssertEqual(ops.filter { $0 == "Slice" }.count, 3, "Q, K and V")
        XCTAssertFalse(g.initializers.contains { $0.name.hasSuffix("causal_mask") }, "a vit attends to every patch")
        XCTAssertEqual(try initializer(g, "block0.attn.qkv.weight_t").dims, [8, 24])
        let scale = try initializer(g, "block0.attn.scale")
        XCTAssertEqual(scale.floats, [1 / Float(4).squareRoot()])
        XCTAssertEqual(Array(ops.suffix(3)), ["LayerNormalization", "ReduceMean", "Gemm"])
        XCTAssertEqual(g.outputs.first?.shape, [.symbol("N"), .value(3)])
    }

    func testGPTEmbeddingCausalMaskAndTiedHead() throws {
        let m = try model(.gpt(GPTSpec(layers: 1, hidden: 8, heads: 2, sequenceLength: 4, vocabulary: 5)), [3], classes: 5)
        let g = try ONNXExporter.graph(of: m)
        XCTAssertEqual(Array(g.nodes.prefix(3).map(\.opType)), ["Cast", "Gather", "Add"])
        XCTAssertEqual(g.nodes[0].attributes, [.int("to", 7)], "ids as int64")
        XCTAssertEqual(try initializer(g, "embed.positions").dims, [3, 8], "the first T positions")
        let mask = try initializer(g, "block0.attn.causal_mask")
        XCTAssertEqual(mask.dims, [3, 3])
        XCTAssertEqual(mask.floats, [0, -.infinity, -.infinity, 0, 0, -.infinity, 0, 0, 0])
        let embedding = try XCTUnwrap(m.network.layers.first as? Embedding)
        let head = try initializer(g, "embed.tokens_t")
        XCTAssertEqual(head.dims, [8, 5], "the head is the token table, transposed")
        XCTAssertEqual(head.floats, transposed(embedding.tokens.value.array, rows: 5, columns: 8))
        XCTAssertEqual(g.nodes.last?.opType, "MatMul")
        XCTAssertEqual(g.inputs.first?.shape, [.symbol("N"), .value(3)])
        XCTAssertEqual(g.outputs.first?.shape, [.symbol("N"), .value(3), .value(5)])
    }

    func testUnknownLayersAreRefused() throws {
        let m = try model(.mlp(MLPSpec(widths: [4])), [5], classes: 2)
        let odd = try Model(network: Sequential("mlp", [Flatten("flatten"), Identity("mystery"), Linear("classifier", 5, 2)]),
                            spec: m.spec, inputShape: [5], classes: 2, context: ExecutionContext())
        XCTAssertThrowsError(try ONNXExporter.export(odd)) { error in
            XCTAssertEqual(error as? ReportError, ReportError("onnx export has no form for layer 'mystery' (Identity)"))
        }
    }

    func testSerializedModelDeclaresOpset17() throws {
        let bytes = try ONNXExporter.export(model(.mlp(MLPSpec(widths: [3])), [2], classes: 2))
        XCTAssertEqual(Array(bytes.prefix(2)), [0x08, 0x08])
        XCTAssertEqual(Array(bytes.suffix(6)), [0x42, 0x04, 0x0A, 0x00, 0x10, 0x11])
    }
}

/// A layer the exporter does not know.
private final class Identity: Layer {
    let name: String
    var needsInputGradient = true
    init(_ name: String) { self.name = name }
    func outputShape(for input: [Int]) throws -> [Int] { input }
    func forward(_ x: Tensor, training: Bool) -> Tensor { x }
    func backward(_ dy: Tensor) -> Tensor? { dy }
}
