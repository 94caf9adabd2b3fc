/// Per-channel standardization: `(x - mean) / std`, fitted on training data and applied to any split.
///
/// Statistics are taken along the last dimension of `sampleShape`: per channel for images
/// (`[H, W, C]` gives C statistics), per feature for tabular data (`[D]` gives D).
///
///     let norm = Normalization.fit(train)
///     let (x, v) = (norm.apply(train), norm.apply(validation))
public struct Normalization: Codable, Sendable, Equatable {
    /// The mean of each channel (or feature).
    public var mean: [Float]
    /// The population standard deviation of each channel (or feature), at least `minimumStd`.
    public var std: [Float]

    /// The floor under `std`, so constant channels do not divide by zero.
    public static let minimumStd: Float = 1e-6

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "\(mean.count) means but \(std.count) standard deviations")
        self.mean = mean
        self.std = std
    }

    /// The mean and standard deviation of each channel of `data`.
    ///
    /// A channel with no values (an empty dataset) gets mean 0 and std 1, which leaves data unchanged.
    public static func fit(_ data: Dataset) -> Normalization {
        let channels = channelCount(data)
        var sum = [Double](repeating: 0, count: channels)
        var sumOfSquares = [Double](repeating: 0, count: channels)
        data.features.withUnsafeBufferPointer { x in
            sum.withUnsafeMutableBufferPointer { s in
                sumOfSquares.withUnsafeMutableBufferPointer { q in
                    accumulate(x, channels: channels, sum: s, sumOfSquares: q)
                }
            }
        }
        let n = Double(data.features.count / channels)
        guard n > 0 else {
            return Normalization(mean: [Float](repeating: 0, count: channels),
                                 std: [Float](repeating: 1, count: channels))
        }
        let mean = sum.map { $0 / n }
        let std = (0 ..< channels).map { c -> Float in
            let variance = max(sumOfSquares[c] / n - mean[c] * mean[c], 0)
            return max(Float(variance.squareRoot()), minimumStd)
        }
        return Normalization(mean: mean.map { Float($0) }, std: std)
    }

    /// `data` with each value replaced by `(x - mean[c]) / std[c]`, `c` its channel.
    public func apply(_ data: Dataset) -> Dataset {
        let channels = Normalization.channelCount(data)
        precondition(channels == mean.count,
                     "normalization has \(mean.count) channels but \(data.name) has \(channels)")
        // Shift and scale repeated over a span of whole rows, so the inner loop runs over
        // contiguous memory (and vectorizes) even for a single channel.
        let span = Normalization.span(channels: channels)
        let shift = (0 ..< span).map { mean[$0 % channels] }
        let scale = (0 ..< span).map { 1 / std[$0 % channels] }
        var result = data
        result.features.withUnsafeMutableBufferPointer { x in
            shift.withUnsafeBufferPointer { m in
                scale.withUnsafeBufferPointer { k in
                    guard let base = x.baseAddress else { return }
                    var start = 0
                    while start < x.count {
                        let row = base + start, length = min(span, x.count - start)
                        for j in 0 ..< length { row[j] = (row[j] - m[j]) * k[j] }
                        start += length
                    }
                }
            }
        }
        return result
    }

    /// Statistics are per index along the last dimension of the sample shape.
    private static func channelCount(_ data: Dataset) -> Int { max(data.sampleShape.last ?? 1, 1) }

    /// A whole number of rows of `channels` values, about a thousand values long.
    private static func span(channels: Int) -> Int { channels * max(1, 1024 / channels) }

    /// Adds each channel's values and squared values in `x`, `(rows, channels)`, to `sum` and
    /// `sumOfSquares`.
    ///
    /// Values are summed per position of a span of whole rows in Float, 64 spans at a time, then
    /// folded into Double per channel: the loop vectorizes, and no Float sum holds more than 64 terms.
    private static func accumulate(_ x: UnsafeBufferPointer<Float>, channels: Int,
                                   sum: UnsafeMutableBufferPointer<Double>,
                                   sumOfSquares: UnsafeMutableBufferPointer<Double>) {
        guard let base = x.baseAddress else { return }
        let span = span(channels: channels), spansPerBlock = 64
        var partialSum = [Float](repeating: 0, count: span)
        var partialSquares = [Float](repeating: 0, count: span)
        partialSum.withUnsafeMutableBufferPointer { ps in
            partialSquares.withUnsafeMutableBufferPointer { pq in
                var start = 0
                while start < x.count {
                    let blockEnd = min(start + span * spansPerBlock, x.count)
                    while start < blockEnd {
                        let row = base + start, length = min(span, blockEnd - start)
                        for j in 0 ..< length {
                            let v = row[j]
                            ps[j] += v
                            pq[j] += v * v
                        }
                        start += length
                    }
                    for j in 0 ..< span {
                        sum[j % channels] += Double(ps[j])
                        sumOfSquares[j % channels] += Double(pq[j])
                        ps[j] = 0
                        pq[j] = 0
                    }
                }
            }
        }
    }
}
