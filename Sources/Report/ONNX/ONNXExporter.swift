import Compression
import Engine

/// Writes a trained engine model — or the final model of a compression run — as an ONNX file
/// (IR 8, opset 17) whose logits are the engine's.
///
/// The graph takes `input`, float (N, …per-sample shape…) with a symbolic batch N, exactly the
/// tensor the engine's forward takes (token ids as floats for a gpt), and gives `logits`, float
/// (N, classes), or (N, T, vocabulary) for a gpt. Every family is supported:
///
/// - Linear → Gemm (transB = 1, the engine's (out, in) weight as is); on tokens, MatMul + Add;
/// - Conv2d, DepthwiseConv2d (grouped Conv, group = channels), DepthwiseSeparableConv2d. Engine
///   images are NHWC: the input is transposed to NCHW once before the first convolution, weights
///   are written OIHW, and the activations are transposed back to NHWC before Flatten so the
///   flattened features come in the engine's order;
/// - BatchNorm → BatchNormalization with the running statistics (inference); LayerNorm →
///   LayerNormalization; MaxPool2d, AvgPool2d → MaxPool, AveragePool; GlobalAvgPool →
///   GlobalAveragePool + Flatten; Residual → Add; Flatten → Flatten (nothing for features); Dropout
///   → nothing (identity at inference);
/// - activations: Relu, Sigmoid, Tanh, SiLU as x·Sigmoid(x), GELU as the exact erf form
///   0.5·x·(1 + Erf(x·0.70710678)) in the engine's order of operations;
/// - vit and gpt layers (patch and token embeddings, attention, token pooling, the tied head):
///   see `ONNXExporter+Transformer.swift`;
/// - int8 layers (`QuantizedLinear`, `QuantizedConv2d`) in integer arithmetic, and fake-quantized
///   ("simulated") schemes as the float values they simulate: see `ONNXExporter+Int8.swift`;
/// - compressed models otherwise need nothing special: pruned weights are zeros, factorized layers
///   are two Linear or Conv2d layers, shared weights hold their codebook values.
///
/// A 16-bit model whose activations the engine still rounds at every layer boundary
/// (`activationRounding` fp16 or bf16) gets the same rounding as a Cast to FLOAT16 or BFLOAT16 and
/// back after every layer. Refused with a `ReportError`: TF32 rounding (no ONNX type holds it) and
/// any layer not listed here.
///
///     let bytes = try ONNXExporter.export(model)
///     try Data(bytes).write(to: URL(fileURLWithPath: "model.onnx"))
public enum ONNXExporter {
    /// The name of the symbolic batch dimension of the input and the output.
    public static let batchDimension = "N"

    /// Whether a model trained by `recipe` can be exported: not when its activations are rounded
    /// to TF32 (and not quantized afterwards), which no ONNX type reproduces. Checked before
    /// training, so nobody waits for a run whose model cannot be written.
    public static func canExport(_ recipe: Recipe) -> Bool {
        recipe.precision.format != .tf32 || recipe.compression.contains { $0.method == "quantize" }
    }

    /// The serialized ModelProto of `model`; throws a `ReportError` naming what cannot be exported.
    public static func export(_ model: Model, activationRounding: FloatFormat = .fp32) throws -> [UInt8] {
        ONNXModel(graph: try graph(of: model, activationRounding: activationRounding)).serialized()
    }

    /// The graph of `model` (see `export`).
    public static func graph(of model: Model, activationRounding: FloatFormat = .fp32) throws -> ONNXGraph {
        guard activationRounding != .tf32 else {
            throw ReportError("onnx export: TF32 activation rounding has no ONNX type; export the model from an fp32 or 16-bit run")
        }
        var export = NetworkExport(builder: ONNXGraphBuilder(name: model.network.name), rounding: activationRounding)
        let shape = model.inputShape
        let layout: ValueLayout
        switch (shape.count, model.spec.family) {
        case (1, "gpt"): layout = .ids
        case (1, _): layout = .features
        case (3, _): layout = .nhwc
        default: throw ReportError("onnx export: per-sample input shape \(shape) is neither features, token ids nor an image")
        }
        let batch = ONNXDimension.symbol(batchDimension)
        let input = export.builder.input(ONNXValueInfo("input", .float, [batch] + shape.map { .value($0) }))
        let y = try export.emit(model.network, Value(name: input, layout: layout))
        switch y.layout {
        case .features:
            export.builder.output(y.name, as: "logits", shape: [batch, .value(model.classes)])
        case .tokens:
            export.builder.output(y.name, as: "logits", shape: [batch, .value(shape[0]), .value(model.classes)])
        case .ids, .nhwc, .nchw:
            throw ReportError("onnx export: the network ends in \(y.layout) values, not logits")
        }
        return export.builder.graph
    }
}

/// How a value's dimensions are laid out: (N, F) features, (N, T) token ids, (N, T, d) token
/// vectors, or an image batch channels-last (the engine's) or channels-first (ONNX's Conv and
/// pooling).
enum ValueLayout: Equatable { case features, ids, tokens, nhwc, nchw }

/// A graph value and its layout.
struct Value {
    var name: String
    var layout: ValueLayout
}

/// The walk over a network's layers that emits their nodes.
struct NetworkExport {
    var builder: ONNXGraphBuilder
    /// The format the engine rounds every layer's output to (fp32: none).
    let rounding: FloatFormat

    /// Emit `layer` applied to `x`.
    mutating func emit(_ layer: Layer, _ x: Value) throws -> Value {
        switch layer {
        case let s as Sequential:
            var y = x
            for l in s.layers { y = try rounded(emit(l, y), after: l.name) }
            return y
        case let r as Residual:
            let skip = x.layout == .nhwc ? transpose(x, to: .nchw, at: r.name) : x
            var body = try emit(r.body, skip)
            if body.layout != skip.layout { body = transpose(body, to: skip.layout, at: r.name) }
            return Value(name: builder.node("Add", [skip.name, body.name], name: r.name), layout: skip.layout)
        case is Dropout:
            return x
        case let f as Flatten:
            guard x.layout != .features else { return x }
            let hwc = x.layout == .nchw ? transpose(x, to: .nhwc, at: f.name) : x
            return Value(name: builder.node("Flatten", [hwc.name], name: f.name, attributes: [.int("axis", 1)]), layout: .features)
        case let a as Activation:
            return Value(name: activation(a.kind, x.name, at: a.name), layout: x.layout)
        case let linear as Linear:
            return try self.linear(linear, x)
        case let conv as Conv2d:
            return conv2d(conv, x)
        case let dw as DepthwiseConv2d:
            return depthwise(dw, x)
        case let sep as DepthwiseSeparableConv2d:
            return conv2d(sep.pointwise, depthwise(sep.depthwise, x))
        case let bn as BatchNorm:
            return batchNorm(bn, x)
        case let ln as LayerNorm:
            let f = x.layout == .tokens ? x : try features(x, at: ln.name)
            let scale = builder.constant(.float(ln.scale.name, [ln.features], ln.scale.value.array))
            let shift = builder.constant(.float(ln.shift.name, [ln.features], ln.shift.value.array))
            return Value(name: builder.node("LayerNormalization", [f.name, scale, shift], name: ln.name,
                                            attributes: [.int("axis", -1), .float("epsilon", ln.epsilon)]), layout: f.layout)
        case let pool as MaxPool2d:
            return window("MaxPool", pool.name, kernel: pool.kernel, stride: pool.stride, x)
        case let pool as AvgPool2d:
            return window("AveragePool", pool.name, kernel: pool.kernel, stride: pool.stride, x)
        case let gap as GlobalAvgPool:
            let image = x.layout == .nhwc ? transpose(x, to: .nchw, at: gap.name) : x
            let pooled = builder.node("GlobalAveragePool", [image.name], name: gap.name)
            return Value(name: builder.node("Flatten", [pooled], name: gap.name, attributes: [.int("axis", 1)]), layout: .features)
        case let t as TransformerBlock:
            return try emit(t.body, x)
        case let a as MultiHeadSelfAttention:
            return try attention(a, x)
        case let p as PatchEmbedding:
            return patchEmbedding(p, x)
        case let e as Embedding:
            return try embedding(e, x)
        case let p as TokenPooling:
            guard x.layout == .tokens else { throw ReportError("onnx export: '\(p.name)' takes tokens, got \(x.layout) values") }
            return Value(name: builder.node("ReduceMean", [x.name], name: p.name, attributes: [.ints("axes", [1]), .int("keepdims", 0)]),
                         layout: .features)
        case let q as QuantizedLinear:
            return try quantizedLinear(q, x)
        case let q as QuantizedConv2d:
            return quantizedConv2d(q, x)
        case let a as ActivationQuantizer:
            return try emit(a.inner, a.mode == .fakeQuantize ? fakeQuantize(x, a.inputQuantization, at: a.name) : x)
        default:
            throw ReportError("onnx export has no form for layer '\(layer.name)' (\(type(of: layer)))")
        }
    }

    /// `x` rounded to the format the engine rounds layer outputs to (unchanged for fp32).
    mutating func rounded(_ x: Value, after layer: String) -> Value {
        let to: Int
        switch rounding {
        case .fp16: to = 10          // FLOAT16
        case .bf16: to = 16          // BFLOAT16
        case .fp8: to = 17           // FLOAT8E4M3FN (opset 19)
        case .fp32, .tf32: return x
        }
        let narrow = builder.node("Cast", [x.name], name: layer + ".round", attributes: [.int("to", to)])
        return Value(name: builder.node("Cast", [narrow], name: layer + ".round", attributes: [.int("to", 1)]), layout: x.layout)
    }

    /// `x` as (N, F) features; throws for an image (the layer at `name` needs a Flatten first).
    func features(_ x: Value, at name: String) throws -> Value {
        guard x.layout == .features else {
            throw ReportError("onnx export: '\(name)' takes features, but gets an image (no Flatten before it)")
        }
        return x
    }

    /// An image value in the other channel order: NHWC → NCHW is perm (0, 3, 1, 2), back (0, 2, 3, 1).
    mutating func transpose(_ x: Value, to layout: ValueLayout, at name: String) -> Value {
        guard x.layout != layout else { return x }
        precondition(x.layout != .features && layout != .features, "\(name): features have no channel order")
        let perm = layout == .nchw ? [0, 3, 1, 2] : [0, 2, 3, 1]
        return Value(name: builder.node("Transpose", [x.name], name: name + (layout == .nchw ? ".to_nchw" : ".to_nhwc"),
                                        attributes: [.ints("perm", perm)]), layout: layout)
    }

    /// The activation's nodes, in the engine's order of operations.
    mutating func activation(_ kind: ActivationKind, _ x: String, at name: String) -> String {
        switch kind {
        case .relu: return builder.node("Relu", [x], name: name)
        case .sigmoid: return builder.node("Sigmoid", [x], name: name)
        case .tanh: return builder.node("Tanh", [x], name: name)
        case .silu: return builder.node("Mul", [x, builder.node("Sigmoid", [x], name: name)], name: name)
        case .gelu:
            // 0.5·x · (1 + erf(x·0.70710678))
            let scaled = builder.node("Mul", [x, builder.scalar(name + ".inv_sqrt2", 0.70710678)], name: name)
            let cdf = builder.node("Add", [builder.scalar(name + ".one", 1), builder.node("Erf", [scaled], name: name)], name: name)
            let half = builder.node("Mul", [builder.scalar(name + ".half", 0.5), x], name: name)
            return builder.node("Mul", [half, cdf], name: name)
        }
    }

    /// Gemm (transB = 1) on features; on tokens MatMul by the transposed weight, then Add.
    mutating func linear(_ l: Linear, _ x: Value) throws -> Value {
        let (n, k) = (l.outFeatures, l.inFeatures)
        let bias = l.bias.map { builder.constant(.float($0.name, [n], $0.value.array)) }
        if x.layout == .tokens {
            let weight = builder.constant(.float(l.weight.name + "_t", [k, n], transposed(l.weight.value.array, rows: n, columns: k)))
            let product = builder.node("MatMul", [x.name, weight], name: l.name)
            return Value(name: bias.map { builder.node("Add", [product, $0], name: l.name) } ?? product, layout: .tokens)
        }
        let f = try features(x, at: l.name)
        let inputs = [f.name, builder.constant(.float(l.weight.name, [n, k], l.weight.value.array))] + (bias.map { [$0] } ?? [])
        return Value(name: builder.node("Gemm", inputs, name: l.name, attributes: [.int("transB", 1)]), layout: .features)
    }

    /// The engine's (k, k, cin, cout) filter as OIHW (cout, cin, k, k).
    mutating func conv2d(_ c: Conv2d, _ x: Value) -> Value {
        let image = transpose(x, to: .nchw, at: c.name)
        let k = c.kernel, cin = c.inChannels, cout = c.outChannels
        let oihw = convolutionOIHW(c.weight.value.array, kernel: k, inChannels: cin, outChannels: cout)
        var inputs = [image.name, builder.constant(.float(c.weight.name, [cout, cin, k, k], oihw))]
        if let b = c.bias { inputs.append(builder.constant(.float(b.name, [cout], b.value.array))) }
        return Value(name: builder.node("Conv", inputs, name: c.name, attributes: window(kernel: k, stride: c.stride, padding: c.padding)),
                     layout: .nchw)
    }

    /// One k×k filter per channel: the engine's (k, k, C) weight as (C, 1, k, k), group = C.
    mutating func depthwise(_ d: DepthwiseConv2d, _ x: Value) -> Value {
        let image = transpose(x, to: .nchw, at: d.name)
        let k = d.kernel, c = d.channels
        let weight = depthwiseOIHW(d.weight.value.array, kernel: k, channels: c)
        var inputs = [image.name, builder.constant(.float(d.weight.name, [c, 1, k, k], weight))]
        if let b = d.bias { inputs.append(builder.constant(.float(b.name, [c], b.value.array))) }
        let attributes = window(kernel: k, stride: d.stride, padding: d.padding) + [.int("group", c)]
        return Value(name: builder.node("Conv", inputs, name: d.name, attributes: attributes), layout: .nchw)
    }

    /// kernel_shape, strides and symmetric pads of a square window.
    func window(kernel: Int, stride: Int, padding: Int) -> [ONNXAttribute] {
        [.ints("kernel_shape", [kernel, kernel]), .ints("strides", [stride, stride]), .ints("pads", Array(repeating: padding, count: 4))]
    }

    mutating func window(_ op: String, _ name: String, kernel: Int, stride: Int, _ x: Value) -> Value {
        let image = transpose(x, to: .nchw, at: name)
        return Value(name: builder.node(op, [image.name], name: name, attributes: window(kernel: kernel, stride: stride, padding: 0)),
                     layout: .nchw)
    }

    /// Inference batch normalisation with the running statistics (0 and 1 before any forward, as
    /// the engine starts them).
    mutating func batchNorm(_ bn: BatchNorm, _ x: Value) -> Value {
        let input = x.layout == .nhwc ? transpose(x, to: .nchw, at: bn.name) : x
        let c = bn.channels
        let (mean, variance) = runningStatistics(bn)
        let inputs = [input.name,
                      builder.constant(.float(bn.scale.name, [c], bn.scale.value.array)),
                      builder.constant(.float(bn.shift.name, [c], bn.shift.value.array)),
                      builder.constant(.float(bn.name + ".running_mean", [c], mean)),
                      builder.constant(.float(bn.name + ".running_var", [c], variance))]
        return Value(name: builder.node("BatchNormalization", inputs, name: bn.name, attributes: [.float("epsilon", bn.epsilon)]),
                     layout: input.layout)
    }
}
