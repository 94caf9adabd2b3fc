import Engine

/// The norm that scores a whole channel for structured pruning. In JSON: `"l1"` or `"l2"`.
public enum ChannelNorm: String, NamedChoice, Equatable, Sendable {
    /// Σ|w| over the channel (Li et al. 2017, Pruning Filters for Efficient ConvNets).
    case l1
    /// (Σw²)^½ over the channel.
    case l2
}

/// Keep the largest |scores| and prune exactly round(sparsity·count) entries (true = kept).
///
/// Among equal magnitudes the lower index is kept, so the pruned count is exact even when every
/// score is equal; a NaN score counts as the smallest.
///
///     magnitudeMask(w, count: 10, sparsity: 0.3)   // 7 true, at the 7 largest |w|
///
/// - Parameter sparsity: fraction pruned, clamped to [0, 1].
public func magnitudeMask(_ scores: UnsafePointer<Float>, count: Int, sparsity: Double) -> [Bool] {
    let magnitudes = (0..<count).map { pruningMagnitude(scores[$0]) }
    return keepLargest(magnitudes, keep: count - prunedCount(count, sparsity))
}

/// One magnitude threshold over several tensors: prune exactly round(sparsity·total) entries
/// across all of them (ties kept by tensor order, then index), one mask per tensor.
///
/// Global pruning lets layers with many small weights give up more than others (Zhu & Gupta 2017
/// prune per layer; the global form is the one Frankle & Carbin 2019 use for deep networks).
public func globalMasks(_ scores: [(UnsafePointer<Float>, Int)], sparsity: Double) -> [[Bool]] {
    var magnitudes: [Float] = []
    magnitudes.reserveCapacity(scores.reduce(0) { $0 + $1.1 })
    for (p, n) in scores {
        for i in 0..<n { magnitudes.append(pruningMagnitude(p[i])) }
    }
    let flat = keepLargest(magnitudes, keep: magnitudes.count - prunedCount(magnitudes.count, sparsity))
    var masks: [[Bool]] = []
    var offset = 0
    for (_, n) in scores {
        masks.append(Array(flat[offset..<(offset + n)]))
        offset += n
    }
    return masks
}

/// First-order Taylor importance |w·∂L/∂w| per weight (Molchanov et al. 2017, Pruning
/// Convolutional Neural Networks for Resource Efficient Inference): the loss change when the
/// weight is set to zero, to first order. Sum them over batches for a steadier estimate.
public func taylorScores(weights: UnsafePointer<Float>, gradients: UnsafePointer<Float>, count: Int) -> [Float] {
    (0..<count).map { abs(weights[$0] * gradients[$0]) }
}

/// The norm of every slice along `channelAxis` of a row-major tensor of `shape`.
///
/// A Linear weight (out, in) scored per output neuron uses axis 0; a convolution kernel stored
/// (k, k, cin, cout) scored per output filter uses axis 3.
///
///     channelNorms(w, shape: [64, 32], channelAxis: 0, norm: .l1)   // 64 row sums of |w|
public func channelNorms(_ w: UnsafePointer<Float>, shape: [Int], channelAxis: Int, norm: ChannelNorm) -> [Float] {
    precondition(shape.indices.contains(channelAxis), "channel axis \(channelAxis) is outside shape \(shape)")
    let outer = shape[..<channelAxis].reduce(1, *)
    let channels = shape[channelAxis]
    let inner = shape[(channelAxis + 1)...].reduce(1, *)
    var sums = [Double](repeating: 0, count: channels)
    for o in 0..<outer {
        for c in 0..<channels {
            let base = w + (o * channels + c) * inner
            var s = 0.0
            switch norm {
            case .l1: for i in 0..<inner { s += Double(abs(base[i])) }
            case .l2: for i in 0..<inner { s += Double(base[i]) * Double(base[i]) }
            }
            sums[c] += s
        }
    }
    return sums.map { Float(norm == .l2 ? $0.squareRoot() : $0) }
}

/// The channels kept when a fraction `ratio` of them is removed: the count − round(ratio·count)
/// largest norms (never fewer than `minimum`), as ascending indices.
///
/// Among equal norms the lower index is kept.
///
///     keptChannels([0.1, 3, 2, 0.5], ratio: 0.5)   // [1, 2]
public func keptChannels(_ norms: [Float], ratio: Double, minimum: Int = 1) -> [Int] {
    let keep = max(norms.count - prunedCount(norms.count, ratio), min(max(minimum, 0), norms.count))
    let mask = keepLargest(norms.map(pruningMagnitude), keep: keep)
    return mask.indices.filter { mask[$0] }
}

/// Zero every entry of `p` whose mask entry is false.
public func applyMask(_ mask: [Bool], to p: UnsafeMutablePointer<Float>) {
    for (i, kept) in mask.enumerated() where !kept { p[i] = 0 }
}

// MARK: - Selection

/// round(sparsity·count) with sparsity clamped to [0, 1].
private func prunedCount(_ count: Int, _ sparsity: Double) -> Int {
    precondition(!sparsity.isNaN, "sparsity is NaN")
    return Int((min(max(sparsity, 0), 1) * Double(count)).rounded())
}

/// |x|, with NaN mapped below every real magnitude so it is pruned first.
private func pruningMagnitude(_ x: Float) -> Float {
    x.isNaN ? -1 : abs(x)
}

/// A mask keeping the `keep` largest values (ties: lower index first).
///
/// The keep-th largest value t is found by quickselect in expected linear time; everything above t
/// is kept, then the first entries equal to t in index order until `keep` are kept.
private func keepLargest(_ values: [Float], keep: Int) -> [Bool] {
    let n = values.count
    guard keep > 0 else { return [Bool](repeating: false, count: n) }
    guard keep < n else { return [Bool](repeating: true, count: n) }
    var scratch = values
    let threshold = selectDescending(&scratch, rank: keep - 1)
    var mask = [Bool](repeating: false, count: n)
    var kept = 0
    for i in 0..<n where values[i] > threshold { mask[i] = true; kept += 1 }
    for i in 0..<n where kept < keep && values[i] == threshold { mask[i] = true; kept += 1 }
    return mask
}

/// The value at position `rank` (0-based) of `a` sorted in descending order. Three-way
/// partitioning keeps runs of equal values linear; pivots come from a fixed seed, and the answer
/// does not depend on them.
private func selectDescending(_ a: inout [Float], rank: Int) -> Float {
    var rng = RandomSource(seed: 0x5EED)
    var lo = 0, hi = a.count                                   // search within a[lo..<hi]
    return a.withUnsafeMutableBufferPointer { p in
        while true {
            let pivot = p[lo + rng.nextInt(below: hi - lo)]
            // Arrange as [> pivot | == pivot | < pivot].
            var greater = lo, i = lo, less = hi
            while i < less {
                if p[i] > pivot { p.swapAt(i, greater); greater += 1; i += 1 }
                else if p[i] < pivot { less -= 1; p.swapAt(i, less) }
                else { i += 1 }
            }
            if rank < greater { hi = greater }
            else if rank < less { return pivot }
            else { lo = less }
        }
    }
}
