import Compression
import Engine

/// Int8 layers and fake quantization as ONNX nodes.
///
/// `QuantizedLinear` and `QuantizedConv2d` are written as MatMulInteger and ConvInteger rather
/// than QuantizeLinear → DequantizeLinear → float MatMul/Conv: the engine sums int8 products in
/// int32 and rescales once, y = sx·sw[c]·(Σ qx·qw − zx·Σ qw) + b[c], and MatMulInteger /
/// ConvInteger with the input's zero point compute exactly that int32 sum, where a float MatMul
/// over dequantized values would round every product. The rest follows the engine step by step:
///
/// - input codes: Div by the scale, Clip to [qmin − z, qmax − z], Round (half to even, as the
///   engine), Add the zero point. Codes are shifted by +128 into uint8 (the activation type every
///   runtime's integer kernels take); the zero point is shifted with them, so every difference
///   qx − zx, and so every int32 sum, is unchanged. The per-output-channel weight codes are
///   shifted too, with zero point 128: x86 kernels for uint8 × int8 add pairs of products in
///   saturating int16 (ONNX Runtime's AVX2 path does), which changes sums that uint8 × uint8
///   kernels keep exact.
/// - dynamic quantization computes the engine's parameters in the graph: the batch's range
///   widened to hold 0 (ReduceMin, ReduceMax), scale = (max − min)/255 in double then float, zero
///   point = round(−128 − min/scale) clamped, scale 1 and zero 0 for an empty range. As in the
///   engine, the range is the whole batch's, so results match for the same batches.
/// - convolution padding is an explicit Pad with the zero point's code (the engine pads with the
///   code standing for 0.0) before an unpadded ConvInteger.
/// - rescale: Cast to float, Mul by the per-channel sx·sw[c] (that product computed as the engine
///   does), Add the float bias.
///
/// Fake-quantized (simulated) schemes need no integer kernel: their weights already hold the
/// simulated float values, and an input fake quantization is Div, Round, Add z, Clip to
/// [qmin, qmax], Sub z, Mul by the scale — the engine's quantize then dequantize.
extension NetworkExport {
    /// The uint8 codes of `x` (codes + 128), the uint8 zero-point code, and the input scale —
    /// a constant for calibrated parameters, a graph value for dynamic ones.
    mutating func inputCodes(_ x: String, _ input: Int8InputQuantization, at name: String)
        -> (codes: String, zero: String, scale: InputScale) {
        let scale: String, low: String, high: String, shifted: String, zeroCode: String
        let result: InputScale
        switch input {
        case .calibrated(let q):
            let s = q.scale[0], z = q.zeroPoint[0]
            scale = builder.scalar(name + ".input_scale", s)
            low = builder.scalar(name + ".input_low", Float(q.qmin - z))
            high = builder.scalar(name + ".input_high", Float(q.qmax - z))
            shifted = builder.scalar(name + ".input_code_zero", Float(z + 128))
            zeroCode = builder.constant(.uint8(name + ".input_zero_point", [], [UInt8(clamping: z + 128)]))
            result = .constant(s)
        case .dynamic:
            let zero: String
            (scale, zero) = dynamicParameters(x, at: name)
            low = builder.node("Sub", [builder.scalar(name + ".qmin", -128), zero], name: name + ".input_low")
            high = builder.node("Sub", [builder.scalar(name + ".qmax", 127), zero], name: name + ".input_high")
            shifted = builder.node("Add", [zero, builder.scalar(name + ".uint8_shift", 128)], name: name + ".input_zero")
            zeroCode = builder.node("Cast", [shifted], name: name + ".input_zero_point", attributes: [.int("to", 2)])
            result = .value(scale)
        }
        let divided = builder.node("Div", [x, scale], name: name + ".quantize")
        let clipped = builder.node("Clip", [divided, low, high], name: name + ".quantize")
        let rounded = builder.node("Round", [clipped], name: name + ".quantize")
        let codes = builder.node("Add", [rounded, shifted], name: name + ".quantize")
        return (builder.node("Cast", [codes], name: name + ".quantize", attributes: [.int("to", 2)]), zeroCode, result)
    }

    /// The engine's dynamic scale and zero point of all of `x` (scalars, float).
    mutating func dynamicParameters(_ x: String, at name: String) -> (scale: String, zero: String) {
        let n = name + ".dynamic"
        let zero = builder.scalar(n + ".zero", 0)
        let lowest = builder.node("Min", [builder.node("ReduceMin", [x], name: n, attributes: [.int("keepdims", 0)]), zero], name: n)
        let highest = builder.node("Max", [builder.node("ReduceMax", [x], name: n, attributes: [.int("keepdims", 0)]), zero], name: n)
        let lo = builder.node("Max", [lowest, builder.scalar(n + ".min_finite", -.greatestFiniteMagnitude)], name: n)
        let hi = builder.node("Min", [highest, builder.scalar(n + ".max_finite", .greatestFiniteMagnitude)], name: n)
        // scale = max(Float((Double(hi) − Double(lo)) / 255), least normal)
        let range = builder.node("Sub", [builder.node("Cast", [hi], name: n, attributes: [.int("to", 11)]),
                                         builder.node("Cast", [lo], name: n, attributes: [.int("to", 11)])], name: n)
        let wide = builder.node("Div", [range, builder.constant(.double(n + ".levels", [], [255]))], name: n)
        let narrow = builder.node("Cast", [wide], name: n, attributes: [.int("to", 1)])
        let computed = builder.node("Max", [narrow, builder.scalar(n + ".least_normal", .leastNormalMagnitude)], name: n)
        // zero = clamp(round(−128 − lo / scale), −128, 127)
        let offset = builder.node("Sub", [builder.scalar(n + ".qmin", -128), builder.node("Div", [lo, computed], name: n)], name: n)
        let zeroPoint = builder.node("Clip", [builder.node("Round", [offset], name: n), builder.scalar(n + ".clip_low", -128),
                                              builder.scalar(n + ".clip_high", 127)], name: n)
        // An empty range (all zeros): scale 1, zero point 0.
        let nonEmpty = builder.node("Greater", [hi, lo], name: n)
        let scale = builder.node("Where", [nonEmpty, computed, builder.scalar(n + ".unit", 1)], name: n + ".scale")
        return (scale, builder.node("Where", [nonEmpty, zeroPoint, zero], name: n + ".zero_point"))
    }

    /// int32 sums → float: Cast, Mul by sx·sw[c] (shape `shape`), Add the bias.
    mutating func rescale(_ sums: String, weightScales: [Float], input: InputScale, bias: [Float]?, shape: [Int],
                          at name: String) -> String {
        let combined: String
        switch input {
        case .constant(let s):
            combined = builder.constant(.float(name + ".output_scale", shape, weightScales.map { $0 * s }))
        case .value(let s):
            combined = builder.node("Mul", [builder.constant(.float(name + ".weight_scale", shape, weightScales)), s], name: name + ".output_scale")
        }
        let float = builder.node("Cast", [sums], name: name + ".sums", attributes: [.int("to", 1)])
        let scaled = builder.node("Mul", [float, combined], name: name + ".rescale")
        guard let bias else { return scaled }
        return builder.node("Add", [scaled, builder.constant(.float(name + ".bias", shape, bias))], name: name + ".bias")
    }

    mutating func quantizedLinear(_ q: QuantizedLinear, _ x: Value) throws -> Value {
        let f = x.layout == .tokens ? x : try features(x, at: q.name)
        let (codes, zero, scale) = inputCodes(f.name, q.input, at: q.name)
        let (n, k) = (q.outFeatures, q.inFeatures)
        var transposed = [UInt8](repeating: 0, count: n * k)      // (in, out)
        for o in 0..<n { for i in 0..<k { transposed[i * n + o] = shiftedCode(q.weightCodes[o * k + i]) } }
        let weight = builder.constant(.uint8(q.name + ".weight_codes", [k, n], transposed))
        let sums = builder.node("MatMulInteger", [codes, weight, zero, weightZeroPoint(at: q.name)], name: q.name)
        return Value(name: rescale(sums, weightScales: q.weightScales, input: scale, bias: q.bias, shape: [n], at: q.name),
                     layout: f.layout)
    }

    mutating func quantizedConv2d(_ q: QuantizedConv2d, _ x: Value) -> Value {
        let image = transpose(x, to: .nchw, at: q.name)
        var (codes, zero, scale) = inputCodes(image.name, q.input, at: q.name)
        let k = q.kernel, cin = q.inChannels, cout = q.outChannels, depth = k * k * cin
        if q.padding > 0 {
            let p = q.padding
            let pads = builder.constant(.int64(q.name + ".pads", [8], [0, 0, Int64(p), Int64(p), 0, 0, Int64(p), Int64(p)]))
            codes = builder.node("Pad", [codes, pads, zero], name: q.name)
        }
        var oihw = [UInt8](repeating: 0, count: cout * depth)      // codes are (cout, k·k·cin) in (ky, kx, cin) order
        for o in 0..<cout { for i in 0..<cin { for ky in 0..<k { for kx in 0..<k {
            oihw[((o * cin + i) * k + ky) * k + kx] = shiftedCode(q.weightCodes[o * depth + (ky * k + kx) * cin + i])
        } } } }
        let weight = builder.constant(.uint8(q.name + ".weight_codes", [cout, cin, k, k], oihw))
        let sums = builder.node("ConvInteger", [codes, weight, zero, weightZeroPoint(at: q.name)], name: q.name,
                                attributes: window(kernel: k, stride: q.stride, padding: 0))
        return Value(name: rescale(sums, weightScales: q.weightScales, input: scale, bias: q.bias, shape: [1, cout, 1, 1], at: q.name),
                     layout: .nchw)
    }

    /// The zero point of weight codes shifted into uint8: 128, the code of 0.
    mutating func weightZeroPoint(at name: String) -> String {
        builder.constant(.uint8(name + ".weight_zero_point", [], [128]))
    }

    /// quantize then dequantize with fixed parameters: (clamp(round(x/s) + z, qmin, qmax) − z)·s.
    mutating func fakeQuantize(_ x: Value, _ q: AffineQuantization, at name: String) -> Value {
        let n = name + ".fake_quant"
        let s = builder.scalar(n + ".scale", q.scale[0]), z = builder.scalar(n + ".zero_point", Float(q.zeroPoint[0]))
        let rounded = builder.node("Round", [builder.node("Div", [x.name, s], name: n)], name: n)
        let clipped = builder.node("Clip", [builder.node("Add", [rounded, z], name: n), builder.scalar(n + ".qmin", Float(q.qmin)),
                                            builder.scalar(n + ".qmax", Float(q.qmax))], name: n)
        return Value(name: builder.node("Mul", [builder.node("Sub", [clipped, z], name: n), s], name: n), layout: x.layout)
    }
}

/// An int8 code + 128, as uint8.
func shiftedCode(_ code: Int8) -> UInt8 { UInt8(Int(code) + 128) }

/// The input scale of an int8 layer: fixed, or computed in the graph for each batch.
enum InputScale {
    case constant(Float)
    case value(String)
}
