import CKernels
import Engine

/// An inference-only 2-D convolution in int8 arithmetic, built from a trained `Conv2d` (NHWC,
/// square kernel, stride, zero padding).
///
/// The weight (k, k, cin, cout) becomes per-output-channel symmetric int8 codes laid out
/// (cout, k·k·cin), so each filter is one contiguous row. A forward quantizes the input once, unfolds
/// the codes into an int8 column matrix (B·Ho·Wo, k·k·cin) a chunk of samples at a time — each pixel
/// is quantized once rather than once per window it falls in — multiplies it by the codes in
/// int8 × int8 → int32 (`int8GEMM`'s C kernels) with the rescale of `QuantizedLinear` fused into
/// the kernels' store, straight into the output. Padding holds the input
/// zero point's code, which stands for the real value 0. A 1×1, stride-1, unpadded convolution uses
/// the input codes as the column matrix.
///
///     let q = try QuantizedConv2d(trained, weightBits: 8, input: .calibrated(params))
///     try q.outputShape(for: [28, 28, 1])   // same as trained
///
/// Depthwise convolutions (`DepthwiseConv2d`, `DepthwiseSeparableConv2d`) have no int8 form here
/// and stay in float. `backward` does nothing and returns nil; `parameters` is empty.
public final class QuantizedConv2d: Layer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weightBits: Int
    public let input: Int8InputQuantization
    /// Weight codes (cout, k·k·cin): filter c's taps in (ky, kx, cin) order.
    public let weightCodes: [Int8]
    /// One scale per output channel.
    public let weightScales: [Float]
    /// The float bias (cout), if the layer has one.
    public let bias: [Float]?
    public var needsInputGradient = false
    /// The instruction set the product runs in; `KernelSet.selected` when nil.
    public var kernels: KernelSet?
    /// Bytes of int8 column matrix built at a time.
    var columnBudget = 1 << 20
    private let hasBias: Bool
    private let panels: Int8Panels
    private let weightSums: [Int32]
    private let inputCodes = Int8Scratch<Int8>()      // (B, H, W, cin)
    private let columns = Int8Scratch<Int8>()         // (samples per chunk · Ho·Wo, k·k·cin)
    private var out: Tensor?                          // (B, Ho, Wo, cout)

    /// Quantize `conv`'s current weights; throws a `ConfigError` for a bad bit width, bad input
    /// parameters, non-finite weights, or a window of more than 65536 taps.
    public init(_ conv: Conv2d, weightBits: Int = 8, input: Int8InputQuantization) throws {
        name = conv.name
        inChannels = conv.inChannels
        outChannels = conv.outChannels
        kernel = conv.kernel
        stride = conv.stride
        padding = conv.padding
        self.weightBits = weightBits
        self.input = input
        hasBias = conv.bias != nil
        let depth = kernel * kernel * inChannels, cout = outChannels
        try input.validate(keyPath: ConfigError.join(name, "input"))
        try validateInt8Layer(name, weightBits: weightBits, depth: depth)
        let w = conv.weight.value
        if w.context.isMeta {
            weightCodes = []; weightScales = []; bias = nil
        } else {
            let data = w.data
            (weightCodes, weightScales) = try quantizeInt8Rows(rows: cout, depth: depth, bits: weightBits,
                                                               keyPath: ConfigError.join(name, "weight")) { data[$1 * cout + $0] }
            bias = conv.bias.map { $0.value.array }
        }
        (panels, weightSums) = int8WeightPanels(weightCodes, rows: weightScales.count, depth: depth)
    }

    /// The layer with codes (cout, k·k·cin), scales and bias already made (a kept model rebuilt);
    /// throws a `ConfigError` when they do not fit or the bit width or input parameters are bad.
    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, weightBits: Int,
                input: Int8InputQuantization, weightCodes: [Int8], weightScales: [Float], bias: [Float]?) throws {
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.weightBits = weightBits
        self.input = input
        hasBias = bias != nil
        let depth = kernel * kernel * inChannels
        try input.validate(keyPath: ConfigError.join(name, "input"))
        try validateInt8Layer(name, weightBits: weightBits, depth: depth)
        try validateInt8Storage(name, codes: weightCodes.count, scales: weightScales.count, bias: bias?.count,
                                channels: outChannels, depth: depth)
        self.weightCodes = weightCodes; self.weightScales = weightScales; self.bias = bias
        (panels, weightSums) = int8WeightPanels(weightCodes, rows: outChannels, depth: depth)
    }

    /// k·k·cin: the columns of the im2col matrix.
    private var depth: Int { kernel * kernel * inChannels }
    private var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// Bytes the layer keeps: one byte per weight code, a Float scale per output channel, and the
    /// Float bias: cout·k·k·cin + 4·cout (+ 4·cout).
    public var storedBytes: Double {
        Double(outChannels * depth) + 4 * Double(outChannels) + (hasBias ? 4 * Double(outChannels) : 0)
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ShapeError(name, "expects a [height, width, channels] input, got \(input)") }
        guard input[2] == inChannels else { throw ShapeError(name, "expects \(inChannels) input channels, got \(input[2]) in \(input)") }
        let (h, w) = (input[0] + 2 * padding, input[1] + 2 * padding)
        guard input[0] > 0, input[1] > 0, h >= kernel, w >= kernel else {
            throw ShapeError(name, "a \(kernel)×\(kernel) window does not fit input \(input) with padding \(padding)")
        }
        return [(h - kernel) / stride + 1, (w - kernel) / stride + 1, outChannels]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let g: CodeWindows
        do {
            precondition(x.shape.count == 4, "\(name): expects (batch, height, width, channels), got \(x.shape)")
            let size = try outputShape(for: Array(x.shape.dropFirst()))
            g = CodeWindows(batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: inChannels,
                            kernel: kernel, stride: stride, padding: padding, outHeight: size[0], outWidth: size[1])
        } catch {
            preconditionFailure("\(error)")
        }
        let ctx = x.context, depth = depth, cout = outChannels
        let pixels = g.outHeight * g.outWidth, rows = g.batch * pixels
        let o = ctx.buffer(out, [g.batch, g.outHeight, g.outWidth, cout]); out = o
        let chunk = isPointwise ? max(g.batch, 1) : max(1, min(g.batch, columnBudget / max(pixels * depth, 1)))
        let codes = inputCodes.reserve(x.count, in: ctx)
        let cols = isPointwise ? nil : columns.reserve(chunk * pixels * depth, in: ctx)
        recordInt8Quantize(ctx, name, count: x.count, dynamic: input == .dynamic)
        if !isPointwise {
            recordInt8Op(ctx, name + ".im2col", .copy, flops: 0, readBytes: Double(x.count),
                         writtenBytes: Double(rows * depth), dtype: .int8)
        }
        recordInt8Op(ctx, name, .conv, flops: 2 * Double(rows) * Double(depth) * Double(cout),
                     readBytes: Double(rows * depth + cout * depth), writtenBytes: 4 * Double(rows * cout), dtype: .int8)
        recordInt8Rescale(ctx, name, count: o.count, channels: cout, bias: hasBias)
        guard !ctx.isMeta, let codes else { return o }
        precondition(weightScales.count == outChannels, "\(name): quantized from a meta-mode layer, it has no weights to run")
        let q = quantizeInt8Input(x.data, count: x.count, input, into: codes)
        let rescale = Int8Rescale(input: q, weightScales: weightScales, weightSums: weightSums, bias: bias)
        for first in Swift.stride(from: 0, to: g.batch, by: chunk) {
            let samples = first..<min(g.batch, first + chunk)
            let m = samples.count * pixels
            let a: UnsafePointer<Int8>
            if let cols {
                g.unfold(codes, samples: samples, padCode: Int8(q.zeroPoint[0]), into: cols)
                a = UnsafePointer(cols)
            } else {
                a = UnsafePointer(codes + first * g.height * g.width * inChannels)
            }
            int8Multiply(m: m, a, lda: depth, panels, .rescaled(o.data + first * pixels * cout, rescale), ldc: cout,
                         kernels: kernels ?? .selected)
        }
        return o
    }

    /// Nothing to do: the layer is inference-only and passes no gradient back.
    public func backward(_ dy: Tensor) -> Tensor? { nil }
}

/// The windows of a square kernel over a batch of NHWC int8 codes.
private struct CodeWindows {
    let batch, height, width, channels: Int
    let kernel, stride, padding: Int
    let outHeight, outWidth: Int

    /// Write the column matrix of images `samples` (`at_i8_im2col`): row (b, oy, ox) holds the
    /// window at that output pixel in (ky, kx, c) order, `padCode` where it overhangs the image.
    func unfold(_ x: UnsafePointer<Int8>, samples: Range<Int>, padCode: Int8, into col: UnsafeMutablePointer<Int8>) {
        let depth = kernel * kernel * channels, pixels = outHeight * outWidth
        let first = x + samples.lowerBound * height * width * channels
        parallelRanges(samples.count * pixels, minimumPerThread: max(1, (1 << 16) / depth)) { range in
            at_i8_im2col(first, Int32(height), Int32(width), Int32(channels), Int32(kernel), Int32(stride), Int32(padding),
                         Int32(outHeight), Int32(outWidth), padCode, Int32(range.lowerBound), Int32(range.count),
                         col + range.lowerBound * depth)
        }
    }
}
