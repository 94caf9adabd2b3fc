import Foundation

/// Small seeded datasets for tests, smoke runs and search benchmarks: the same seed always gives
/// the same samples, on every machine.
///
///     let blobs = Synthetic.blobs(count: 600, classes: 3, dimensions: 8, seed: 1)
///     let spirals = Synthetic.spirals(count: 400, seed: 2)
///     let text = Synthetic.markovSequences(count: 256, length: 32, vocabulary: 16, seed: 3)
public enum Synthetic {
    /// Gaussian clusters, one per class, with centres drawn uniformly from [-5, 5]^dimensions.
    ///
    /// - Parameters:
    ///   - count: samples; classes get equal shares (±1), in a random order.
    ///   - classes: clusters.
    ///   - dimensions: features per sample.
    ///   - spread: the standard deviation of each cluster.
    ///   - seed: the seed for centres, labels and points.
    /// - Returns: shape `[dimensions]`, `classes` classes, name `"blobs"`.
    public static func blobs(count: Int, classes: Int, dimensions: Int, spread: Float = 1, seed: UInt64) -> Dataset {
        precondition(count >= 0 && classes > 0 && dimensions > 0,
                     "blobs needs count ≥ 0, classes > 0, dimensions > 0; got \(count), \(classes), \(dimensions)")
        var rng = RandomSource(seed: seed)
        let centres = (0 ..< classes * dimensions).map { _ in rng.nextFloat() * 10 - 5 }   // (classes, dimensions)
        let labels = balancedLabels(count: count, classes: classes, rng: &rng)
        var features = [Float](repeating: 0, count: count * dimensions)                   // (count, dimensions)
        for i in 0 ..< count {
            let c = Int(labels[i])
            for d in 0 ..< dimensions {
                features[i * dimensions + d] = centres[c * dimensions + d] + spread * rng.nextNormal()
            }
        }
        return Dataset(features: features, labels: labels, sampleShape: [dimensions], classCount: classes, name: "blobs")
    }

    /// Interleaved spiral arms in the plane, one per class, each making 1½ turns out from the origin.
    ///
    /// A point of class `c` at position `t` ∈ [0, 1) along its arm sits at radius `t` and angle
    /// `2πc / classes + 3πt`, plus Gaussian noise of standard deviation `noise` on each coordinate.
    ///
    /// - Returns: shape `[2]`, `classes` classes (equal shares ±1, random order), name `"spirals"`.
    public static func spirals(count: Int, classes: Int = 2, noise: Float = 0.1, seed: UInt64) -> Dataset {
        precondition(count >= 0 && classes > 0, "spirals needs count ≥ 0 and classes > 0; got \(count), \(classes)")
        var rng = RandomSource(seed: seed)
        let labels = balancedLabels(count: count, classes: classes, rng: &rng)
        var features = [Float](repeating: 0, count: count * 2)                            // (count, 2)
        for i in 0 ..< count {
            let t = rng.nextFloat()
            let angle = 2 * Float.pi * Float(labels[i]) / Float(classes) + 3 * Float.pi * t
            features[2 * i] = t * Foundation.cos(angle) + noise * rng.nextNormal()
            features[2 * i + 1] = t * Foundation.sin(angle) + noise * rng.nextNormal()
        }
        return Dataset(features: features, labels: labels, sampleShape: [2], classCount: classes, name: "spirals")
    }

    /// Token sequences from a random order-1 Markov chain with peaked transitions.
    ///
    /// Each token ranks all tokens as successors in its own random order; the successor of rank `r`
    /// has probability proportional to 2^-r, so about half the mass sits on one successor and the
    /// best possible next-token loss is at most 2 ln 2 ≈ 1.39 nats, whatever the vocabulary. The
    /// first token of each sequence is uniform. The chain depends only on `seed` and `vocabulary`,
    /// and the sequences for a larger `count` extend those for a smaller one.
    ///
    /// - Returns: features are the token ids `(count, length)` stored as Float, labels the token
    ///   that follows each position `(count, length)`; shape `[length]`, `labelsPerSample` = `length`,
    ///   `classCount` = `vocabulary`, name `"markov"`.
    public static func markovSequences(count: Int, length: Int, vocabulary: Int, seed: UInt64) -> Dataset {
        precondition(count >= 0 && length > 0 && vocabulary > 0,
                     "markovSequences needs count ≥ 0, length > 0, vocabulary > 0; got \(count), \(length), \(vocabulary)")
        var chainRNG = RandomSource.derived(seed: seed, stream: 0)
        // successors[s]: tokens in decreasing probability after s; cumulative: P(rank ≤ r), shared by all s.
        let successors = (0 ..< vocabulary).map { _ in chainRNG.permutation(vocabulary) }
        let weights = (0 ..< vocabulary).map { Foundation.pow(0.5, Double($0)) }
        let total = weights.reduce(0, +)
        var cumulative = weights.map { $0 / total }
        for r in cumulative.indices.dropFirst() { cumulative[r] += cumulative[r - 1] }

        var rng = RandomSource.derived(seed: seed, stream: 1)
        var features = [Float](repeating: 0, count: count * length)                        // (count, length)
        var labels = [Int32](repeating: 0, count: count * length)                          // (count, length)
        for i in 0 ..< count {
            var token = rng.nextInt(below: vocabulary)
            for p in 0 ..< length {
                let u = rng.nextDouble()
                var rank = 0
                while rank < vocabulary - 1 && u >= cumulative[rank] { rank += 1 }
                let next = successors[token][rank]
                features[i * length + p] = Float(token)
                labels[i * length + p] = Int32(next)
                token = next
            }
        }
        return Dataset(features: features, labels: labels, sampleShape: [length], labelsPerSample: length,
                       classCount: vocabulary, name: "markov")
    }

    /// `count` labels with each class `count / classes` or one more times, in random order.
    private static func balancedLabels(count: Int, classes: Int, rng: inout RandomSource) -> [Int32] {
        var labels = (0 ..< count).map { Int32($0 % classes) }
        rng.shuffle(&labels)
        return labels
    }
}
