import Engine

/// How the real range that a quantizer covers is chosen from the data.
///
/// In a config file: `"minmax"`, `"mse"`, or `{"percentile": 99.99}`.
///
/// - minMax: the smallest and largest value seen.
/// - percentile(p): clip at the p-th percentile (p in percent) of |x| for symmetric schemes; at the
///   (100 − p)-th and p-th percentiles of x for asymmetric ones.
/// - mse: the clipping range minimising the expected squared quantization error (rounding noise
///   inside, clipping error outside) over a histogram of the data (Migacz 2017, "8-bit Inference
///   with TensorRT", uses the same search with KL divergence instead of squared error).
public enum RangeMethod: Codable, Equatable, Sendable {
    case minMax
    case percentile(Double)
    case mse

    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            switch name {
            case "minmax": self = .minMax
            case "mse": self = .mse
            case "percentile":
                throw ConfigError(keyPath: decoder.keyPath, reason: "percentile needs a value: {\"percentile\": 99.99}")
            default:
                throw ConfigError.unknownName(name, kind: "range method", among: ["minmax", "mse", "percentile"],
                                              keyPath: decoder.keyPath)
            }
            return
        }
        let expected = ConfigError(keyPath: decoder.keyPath,
                                   reason: "expected \"minmax\", \"mse\" or {\"percentile\": P} with P a number")
        guard let c = try? decoder.container(keyedBy: AnyKey.self) else { throw expected }
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: ["percentile"], owner: "range method")
        guard let p = try? c.decode(Double.self, forKey: AnyKey(stringValue: "percentile")) else { throw expected }
        self = .percentile(p)
        try validate(keyPath: decoder.keyPath)
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .minMax:
            var c = encoder.singleValueContainer(); try c.encode("minmax")
        case .mse:
            var c = encoder.singleValueContainer(); try c.encode("mse")
        case .percentile(let p):
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(p, forKey: AnyKey(stringValue: "percentile"))
        }
    }

    /// Throws a `ConfigError` under `keyPath` for a percentile outside (50, 100].
    public func validate(keyPath: String) throws {
        if case .percentile(let p) = self, !(p > 50 && p <= 100) {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "percentile"),
                              reason: "must be in (50, 100] percent, got \(p)")
        }
    }

    /// The range to quantize `values` over with `scheme` (not yet widened to include 0).
    ///
    ///     RangeMethod.percentile(99).clippingRange(of: buffer, scheme: QuantizationScheme())
    public func clippingRange(of values: UnsafeBufferPointer<Float>, scheme: QuantizationScheme) -> (min: Float, max: Float) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        guard lo <= hi else { return (0, 0) }
        if case .minMax = self { return (lo, hi) }
        if scheme.isBinary { return (lo, hi) }
        let symmetric = scheme.symmetric || scheme.levels == .powerOfTwo
        let bins = min(2048, max(64, values.count / 4))
        var histogram = symmetric
            ? ValueHistogram(lower: 0, upper: Double(max(-lo, hi)), bins: bins)
            : ValueHistogram(lower: Double(min(lo, 0)), upper: Double(max(hi, 0)), bins: bins)
        histogram.add(values, absolute: symmetric)
        return histogram.clippingRange(method: self, scheme: scheme, observed: (lo, hi))
    }
}

/// Collects activation statistics over calibration batches and turns them into quantization parameters.
///
///     let observer = RangeObserver(method: .percentile(99.99), scheme: QuantizationScheme(symmetric: false))
///     for batch in calibration { observer.observe(batch.pointer, count: batch.count) }
///     let q = observer.parameters()
///
/// Per tensor (the scheme's `perChannel` is not used). Non-finite values are ignored. minMax keeps
/// the running extremes; percentile and mse keep a 2048-bin histogram of |x| (symmetric) or x
/// (asymmetric) over the running range, re-binned when a batch widens it; binary keeps the mean |x|.
public final class RangeObserver {
    public let method: RangeMethod
    public let scheme: QuantizationScheme
    private var lowest = Float.infinity, highest = -Float.infinity
    private var absoluteSum = 0.0
    private var seen = 0
    private var histogram: ValueHistogram?

    /// Bins of the activation histogram.
    public static let bins = 2048

    public init(method: RangeMethod, scheme: QuantizationScheme) {
        self.method = method
        self.scheme = scheme
    }

    /// Adds `count` values at `p` to the statistics.
    public func observe(_ p: UnsafePointer<Float>, count: Int) {
        let values = UnsafeBufferPointer(start: p, count: count)
        var lo = Float.infinity, hi = -Float.infinity
        var sum = 0.0, finite = 0
        for v in values where v.isFinite {
            lo = min(lo, v); hi = max(hi, v); sum += Double(abs(v)); finite += 1
        }
        guard finite > 0 else { return }
        lowest = min(lowest, lo); highest = max(highest, hi)
        absoluteSum += sum; seen += finite
        if case .minMax = method { return }
        if scheme.isBinary { return }
        let symmetric = scheme.symmetric || scheme.levels == .powerOfTwo
        let lower = symmetric ? 0 : Double(min(lowest, 0))
        let upper = symmetric ? Double(max(-lowest, highest)) : Double(max(highest, 0))
        if histogram == nil { histogram = ValueHistogram(lower: lower, upper: upper, bins: Self.bins) }
        histogram?.widen(lower: lower, upper: upper)
        histogram?.add(values, absolute: symmetric)
    }

    /// Scale and zero point for everything observed so far (scale 1 before any value).
    public func parameters() -> AffineQuantization {
        guard seen > 0 else { return quantizationParameters(min: 0, max: 0, scheme: scheme) }
        if scheme.isBinary {
            let alpha = Float(absoluteSum / Double(seen))
            return AffineQuantization(scale: [max(alpha, .leastNormalMagnitude)], zeroPoint: [0],
                                      qmin: scheme.qmin, qmax: scheme.qmax)
        }
        guard let histogram else { return quantizationParameters(min: lowest, max: highest, scheme: scheme) }
        let r = histogram.clippingRange(method: method, scheme: scheme, observed: (lowest, highest))
        return quantizationParameters(min: r.min, max: r.max, scheme: scheme)
    }
}

/// Counts of values in equal-width bins over [lower, upper]; mass is taken as uniform inside a bin.
struct ValueHistogram {
    private(set) var lower: Double
    private(set) var upper: Double
    private(set) var counts: [Double]
    private(set) var total = 0.0

    init(lower: Double, upper: Double, bins: Int) {
        self.lower = lower
        self.upper = max(upper, lower + Double(Float.leastNormalMagnitude))
        counts = [Double](repeating: 0, count: bins)
    }

    var width: Double { (upper - lower) / Double(counts.count) }

    /// Adds the finite values (their magnitudes when `absolute`); values past the ends go to the end bins.
    mutating func add(_ values: UnsafeBufferPointer<Float>, absolute: Bool) {
        let scale = Double(counts.count) / (upper - lower), last = counts.count - 1
        counts.withUnsafeMutableBufferPointer { c in
            for v in values where v.isFinite {
                let x = absolute ? Double(abs(v)) : Double(v)
                let i = Int(((x - lower) * scale).rounded(.down))
                c[min(max(i, 0), last)] += 1
                total += 1
            }
        }
    }

    /// Stretches the range to cover [lower, upper], spreading each old bin's mass over the new bins it overlaps.
    mutating func widen(lower newLower: Double, upper newUpper: Double) {
        let l = min(lower, newLower), u = max(upper, newUpper)
        guard l < lower || u > upper else { return }
        let old = counts, oldLower = lower, oldWidth = width
        lower = l; upper = u
        let w = width, last = counts.count - 1
        counts = [Double](repeating: 0, count: counts.count)
        for (i, mass) in old.enumerated() where mass > 0 {
            let a = oldLower + Double(i) * oldWidth, b = a + oldWidth
            var j = min(max(Int(((a - l) / w).rounded(.down)), 0), last)
            while j <= last {
                let binLow = l + Double(j) * w, binHigh = binLow + w
                let overlap = min(b, binHigh) - max(a, binLow)
                if overlap > 0 { counts[j] += mass * overlap / oldWidth }
                if binHigh >= b { break }
                j += 1
            }
        }
    }

    /// The value below which a fraction `q` of the mass lies (linear inside a bin).
    func quantile(_ q: Double) -> Double {
        let target = min(max(q, 0), 1) * total
        var cumulative = 0.0
        for (i, mass) in counts.enumerated() where mass > 0 {
            if cumulative + mass >= target {
                return lower + (Double(i) + (target - cumulative) / mass) * width
            }
            cumulative += mass
        }
        return upper
    }

    /// The clipping range `method` picks; `observed` is the exact extent of the data.
    func clippingRange(method: RangeMethod, scheme: QuantizationScheme,
                       observed: (min: Float, max: Float)) -> (min: Float, max: Float) {
        let symmetric = scheme.symmetric || scheme.levels == .powerOfTwo
        switch method {
        case .minMax:
            return observed
        case .percentile(let percent):
            let p = min(max(percent, 0), 100) / 100
            if symmetric {
                let t = Float(min(quantile(p), upper))
                return (-t, t)
            }
            return (max(Float(quantile(1 - p)), observed.min), min(Float(quantile(p)), observed.max))
        case .mse:
            if scheme.levels == .powerOfTwo { return powerOfTwoMSERange(scheme: scheme) }
            return symmetric ? symmetricMSERange(scheme: scheme) : asymmetricMSERange(scheme: scheme)
        }
    }

    // MARK: MSE search

    /// Expected squared error of quantizing the histogram's mass on the grid {kΔ} clamped to [low, high].
    ///
    /// Exact for piecewise-uniform mass: inside the grid ∫(x − Δ·round(x/Δ))² dx from a closed-form
    /// antiderivative, outside it ∫(x − end)² dx.
    func uniformError(step: Double, low: Double, high: Double) -> Double {
        func rounding(_ x: Double) -> Double {
            let u = x / step + 0.5, n = u.rounded(.down), f = u - n - 0.5
            return step * step * step * (n / 12 + (f * f * f + 0.125) / 3)
        }
        func clipped(_ a: Double, _ b: Double, _ end: Double) -> Double {
            let p = b - end, q = a - end
            return (p * p * p - q * q * q) / 3
        }
        let w = width
        var error = 0.0
        for (i, mass) in counts.enumerated() where mass > 0 {
            let a = lower + Double(i) * w, b = a + w
            var integral = 0.0
            if a < low { integral += clipped(a, min(b, low), low) }
            if b > high { integral += clipped(max(a, high), b, high) }
            let ma = max(a, low), mb = min(b, high)
            if mb > ma { integral += rounding(mb) - rounding(ma) }
            error += mass / w * integral
        }
        return error
    }

    /// Candidate clipping points: at most 512 evenly spaced bin edges in (from, to].
    private func candidates(from: Double, to: Double) -> [Double] {
        let edges = max(1, Int(((to - from) / width).rounded()))
        let n = min(edges, 512)
        return (1...n).map { from + (to - from) * Double($0) / Double(n) }
    }

    /// Symmetric uniform: the threshold t (histogram of |x|) with the least error, Δ = t / qmax.
    private func symmetricMSERange(scheme: QuantizationScheme) -> (min: Float, max: Float) {
        let qmax = Double(scheme.qmax)
        var best = (t: upper, error: Double.infinity)
        for t in candidates(from: lower, to: upper) {
            let e = uniformError(step: t / qmax, low: 0, high: t)
            if e < best.error { best = (t, e) }
        }
        return (-Float(best.t), Float(best.t))
    }

    /// Asymmetric uniform: coordinate descent on (low, high) over the signed histogram, two rounds.
    private func asymmetricMSERange(scheme: QuantizationScheme) -> (min: Float, max: Float) {
        func error(_ low: Double, _ high: Double) -> Double {
            let q = quantizationParameters(min: Float(low), max: Float(high), scheme: scheme)
            let step = Double(q.scale[0]), z = Double(q.zeroPoint[0])
            return uniformError(step: step, low: step * (Double(q.qmin) - z), high: step * (Double(q.qmax) - z))
        }
        var low = lower, high = upper
        var bestError = error(low, high)
        for _ in 0..<2 {
            if high > 0 {
                for h in candidates(from: 0, to: upper) {
                    let e = error(low, h)
                    if e < bestError { bestError = e; high = h }
                }
            }
            if low < 0 {
                for l in candidates(from: 0, to: -lower) {
                    let e = error(-l, high)
                    if e < bestError { bestError = e; low = -l }
                }
            }
        }
        return (Float(low), Float(high))
    }

    /// Power-of-two levels: the largest exponent kmax (histogram of |x|) with the least error,
    /// evaluated at eight points inside every bin.
    private func powerOfTwoMSERange(scheme: QuantizationScheme) -> (min: Float, max: Float) {
        let top = roundedLog2(Float(upper))
        let w = width
        var best = (k: top, error: Double.infinity)
        for k in stride(from: top, through: top - 24, by: -1) {
            let largest = Float(sign: .plus, exponent: k, significand: 1)
            let smallest = Float(sign: .plus, exponent: smallestExponent(magnitude: largest, qmax: scheme.qmax),
                                 significand: 1)
            var e = 0.0
            for (i, mass) in counts.enumerated() where mass > 0 {
                var binError = 0.0
                for s in 0..<8 {
                    let x = Float(lower + (Double(i) + (Double(s) + 0.5) / 8) * w)
                    let d = Double(x - powerOfTwoValue(powerOfTwoCode(x, smallest: smallest, qmax: scheme.qmax),
                                                       smallest: smallest))
                    binError += d * d
                }
                e += mass * binError / 8
            }
            if e < best.error { best = (k, e) }
        }
        let t = Float(sign: .plus, exponent: best.k, significand: 1)
        return (-t, t)
    }
}
