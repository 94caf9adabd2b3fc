import Engine

/// Wraps a Linear or Conv2d and watches or fake-quantizes its input: the calibration pass of
/// post-training quantization observes ranges; quantization-aware training fake-quantizes with
/// a moving-average min/max (momentum 0.01, PyTorch's default observer for QAT) and passes the
/// gradient straight through (Bengio et al. 2013's estimator, as Jacob et al. 2018 train).
public final class ActivationQuantizer: Layer {
    public enum Mode { case observe, fakeQuantize }

    public let inner: Layer
    public var mode: Mode
    public let scheme: QuantizationScheme
    public let observer: RangeObserver
    /// The moving-average range of quantization-aware training.
    public private(set) var range: (min: Float, max: Float)?
    private var quantized: Tensor?

    public init(_ inner: Layer, mode: Mode, bits: Int, method: RangeMethod) {
        self.inner = inner
        self.mode = mode
        scheme = QuantizationScheme(bits: bits, symmetric: false, perChannel: false, levels: .uniform)
        observer = RangeObserver(method: method, scheme: scheme)
    }

    /// A quantizer that fake-quantizes with a range it has already learned (a kept model rebuilt):
    /// its `inputQuantization` is the one `range` gives, and an inference forward leaves it alone.
    public convenience init(_ inner: Layer, bits: Int, method: RangeMethod, range: (min: Float, max: Float)) {
        self.init(inner, mode: .fakeQuantize, bits: bits, method: method)
        self.range = range
    }

    public var name: String { inner.name }
    public var parameters: [Parameter] { inner.parameters }
    public var needsInputGradient: Bool {
        get { inner.needsInputGradient }
        set { inner.needsInputGradient = newValue }
    }
    public func outputShape(for input: [Int]) throws -> [Int] { try inner.outputShape(for: input) }

    /// The input's quantization: calibrated (observe) or the moving-average range (QAT).
    public var inputQuantization: AffineQuantization {
        if mode == .fakeQuantize, let r = range { return quantizationParameters(min: r.min, max: r.max, scheme: scheme) }
        return observer.parameters()
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        guard !ctx.isMeta else { return inner.forward(x, training: training) }
        switch mode {
        case .observe:
            observer.observe(x.data, count: x.count)
            return inner.forward(x, training: training)
        case .fakeQuantize:
            if training || range == nil {
                var lo = Float.infinity, hi = -Float.infinity
                let p = x.data
                for i in 0..<x.count { lo = min(lo, p[i]); hi = max(hi, p[i]) }
                if let r = range {
                    range = (r.min + 0.01 * (lo - r.min), r.max + 0.01 * (hi - r.max))
                } else {
                    range = (lo, hi)
                }
            }
            let q = ctx.buffer(quantized, x.shape); quantized = q
            let params = inputQuantization
            let scale = params.scale[0], zero = params.zeroPoint[0]
            ctx.record(name + ".fake_quant", .elementwise, flops: 4 * Double(x.count), read: Double(x.count), written: Double(x.count))
            let src = x.data, dst = q.data, qmin = params.qmin, qmax = params.qmax
            parallelRanges(x.count) { r in
                for i in r {
                    dst[i] = dequantize(quantize(src[i], scale: scale, zeroPoint: zero, qmin: qmin, qmax: qmax), scale: scale, zeroPoint: zero)
                }
            }
            return inner.forward(q, training: training)
        }
    }

    /// The straight-through estimator: the gradient of the quantized input is the input's.
    public func backward(_ dy: Tensor) -> Tensor? { inner.backward(dy) }
}
