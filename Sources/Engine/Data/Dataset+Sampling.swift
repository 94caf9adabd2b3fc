/// Seeded shuffles, subsets, splits and batch gathering. All but `gather` return new datasets;
/// none mutates the receiver.
extension Dataset {
    /// The same samples in an order drawn from `seed`.
    ///
    ///     let a = data.shuffled(seed: 1), b = data.shuffled(seed: 1)   // a and b agree
    public func shuffled(seed: UInt64) -> Dataset {
        var rng = RandomSource(seed: seed)
        return selecting(rng.permutation(count)[...])
    }

    /// The samples at positions `range`.
    public func subset(_ range: Range<Int>) -> Dataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "subset range \(range) outside 0..<\(count)")
        let s = sampleSize, l = labelsPerSample
        var result = self
        result.features = Array(features[range.lowerBound * s ..< range.upperBound * s])
        result.labels = Array(labels[range.lowerBound * l ..< range.upperBound * l])
        return result
    }

    /// The first `count` samples (all of them if there are fewer).
    public func subset(count n: Int) -> Dataset {
        precondition(n >= 0, "subset count must not be negative, got \(n)")
        return subset(0 ..< min(n, count))
    }

    /// Shuffles with `seed`, then cuts off the last `validationFraction` of the samples (rounded to
    /// the nearest sample) for validation.
    ///
    ///     let (train, validation) = data.split(validationFraction: 0.1, seed: 7)
    ///
    /// - Returns: two disjoint datasets that together hold every sample once.
    public func split(validationFraction: Double, seed: UInt64) -> (train: Dataset, validation: Dataset) {
        precondition(validationFraction >= 0 && validationFraction <= 1,
                     "validationFraction must lie in [0, 1], got \(validationFraction)")
        var rng = RandomSource(seed: seed)
        let order = rng.permutation(count)   // the order shuffled(seed:) would give
        let validationCount = min(count, Int((Double(count) * validationFraction).rounded()))
        let cut = count - validationCount
        return (selecting(order[..<cut]), selecting(order[cut...]))
    }

    /// Copies the samples at `indices` into caller-owned buffers without allocating.
    ///
    ///     data.gather(order[start ..< end], features: batchX, labels: batchY)
    ///
    /// - Parameters:
    ///   - indices: sample positions, each in `0..<count`.
    ///   - features: room for `indices.count × sampleSize` values; `(batch, sampleSize)`.
    ///   - labels: room for `indices.count × labelsPerSample` values; `(batch, labelsPerSample)`.
    public func gather(_ indices: ArraySlice<Int>, features out: UnsafeMutablePointer<Float>,
                       labels outLabels: UnsafeMutablePointer<Int32>) {
        Dataset.copyRows(indices, of: features, rowSize: sampleSize, rowCount: count, to: out)
        Dataset.copyRows(indices, of: labels, rowSize: labelsPerSample, rowCount: count, to: outLabels)
    }

    /// A new dataset holding the samples at `indices`, in that order.
    func selecting(_ indices: ArraySlice<Int>) -> Dataset {
        var result = self
        result.features = Dataset.rows(indices, of: features, rowSize: sampleSize, rowCount: count)
        result.labels = Dataset.rows(indices, of: labels, rowSize: labelsPerSample, rowCount: count)
        return result
    }

    /// Copies rows `indices` of a flat `(rowCount, rowSize)` array to `out`, `(indices.count, rowSize)`.
    private static func copyRows<T: BitwiseCopyable>(_ indices: ArraySlice<Int>, of source: [T], rowSize: Int, rowCount: Int,
                                    to out: UnsafeMutablePointer<T>) {
        guard rowSize > 0 else { return }
        source.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var row = 0
            for i in indices {
                precondition(i >= 0 && i < rowCount, "sample index \(i) outside 0..<\(rowCount)")
                (out + row * rowSize).update(from: base + i * rowSize, count: rowSize)
                row += 1
            }
        }
    }

    /// Rows `indices` of a flat `(rowCount, rowSize)` array, as a new array.
    private static func rows<T: BitwiseCopyable>(_ indices: ArraySlice<Int>, of source: [T], rowSize: Int, rowCount: Int) -> [T] {
        let total = indices.count * rowSize
        guard total > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: total) { buffer, initialized in
            guard let out = buffer.baseAddress else { return }
            copyRows(indices, of: source, rowSize: rowSize, rowCount: rowCount, to: out)
            initialized = total
        }
    }
}
