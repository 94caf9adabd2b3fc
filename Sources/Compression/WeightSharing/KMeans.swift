import Engine

/// Where 1-D k-means starts its centroids.
///
/// Han et al. (2016, Deep Compression) compare random, density-based and linear initialisation and
/// find linear best: it keeps centroids at the rare large weights that matter most. In JSON:
/// `"linear"` or `"k-means++"`.
public enum KMeansInitialization: String, NamedChoice, Equatable, Sendable {
    /// Evenly spaced between the smallest and largest weight.
    case linear
    /// k-means++ seeding (Arthur & Vassilvitskii 2007): each next centroid is a weight drawn with
    /// probability proportional to its squared distance from the nearest centroid so far.
    case kMeansPlusPlus = "k-means++"
}

/// Shared weights: a sorted codebook of centroids and, per weight, the index of its centroid.
///
///     let book = Codebook(centroids: [-0.5, 0.5], assignments: [0, 1, 1])
///     book.value(at: 2)   // 0.5
public struct Codebook: Equatable, Sendable {
    /// At most 2⁸ centroids, ascending.
    public var centroids: [Float]
    /// One centroid index per weight.
    public var assignments: [UInt8]

    /// The most centroids an 8-bit index can address.
    public static let maximumClusters = 256

    public init(centroids: [Float], assignments: [UInt8]) {
        self.centroids = centroids
        self.assignments = assignments
    }

    /// The shared value weight `i` takes.
    public func value(at i: Int) -> Float { centroids[Int(assignments[i])] }

    /// Bits one index needs: ⌈log₂(centroids)⌉ (0 for a single centroid).
    public var bitsPerIndex: Int {
        centroids.count <= 1 ? 0 : Int.bitWidth - (centroids.count - 1).leadingZeroBitCount
    }
}

/// Cluster `count` weights into at most `clusters` shared values by Lloyd's 1-D k-means (Han et al.
/// 2016, Deep Compression, §3).
///
/// Centroids are kept sorted, so each weight finds its nearest centroid by binary search over the
/// midpoints between neighbours. Lloyd iterations (recompute each centroid as the mean of its
/// weights, then reassign) stop after `iterations` or as soon as no assignment changes. A cluster
/// left empty moves to the weight farthest from its centroid (the lowest index among equals), so
/// the result depends only on the weights and the seed. When the weights hold no more than
/// `clusters` distinct values the codebook is exactly those values. Weights must be finite.
///
///     let book = kMeansCodebook(w, count: n, clusters: 16, seed: 1)
///     reconstruct(book, into: w)   // every weight now one of 16 values
///
/// - Parameters:
///   - clusters: 1 through 256.
///   - seed: drives `.kMeansPlusPlus`; `.linear` uses no randomness.
public func kMeansCodebook(_ w: UnsafePointer<Float>, count: Int, clusters: Int, iterations: Int = 30,
                           seed: UInt64, initialization: KMeansInitialization = .linear) -> Codebook {
    precondition((1...Codebook.maximumClusters).contains(clusters), "k-means needs 1 to 256 clusters, got \(clusters)")
    guard count > 0 else { return Codebook(centroids: [], assignments: []) }

    if let values = distinctValues(w, count: count, atMost: clusters) {
        let centroids = values.sorted()
        var assignments = [UInt8](repeating: 0, count: count)
        assign(w, count: count, centroids: centroids, into: &assignments)
        return Codebook(centroids: centroids, assignments: assignments)
    }

    var centroids: [Float]
    switch initialization {
    case .linear: centroids = linearCentroids(w, count: count, clusters: clusters)
    case .kMeansPlusPlus: centroids = plusPlusCentroids(w, count: count, clusters: clusters, seed: seed)
    }
    var assignments = [UInt8](repeating: 0, count: count)
    var sums = assign(w, count: count, centroids: centroids, into: &assignments).sums

    for _ in 0..<max(iterations, 0) {
        var relocated = false
        for j in 0..<centroids.count {
            if sums.counts[j] > 0 {
                centroids[j] = Float(sums.totals[j] / Double(sums.counts[j]))
            } else {
                relocateEmpty(j, w, count: count, centroids: &centroids)
                relocated = true
            }
        }
        // Means of non-empty 1-D clusters keep their order; only a relocation can break it.
        if relocated { centroids.sort() }
        let pass = assign(w, count: count, centroids: centroids, into: &assignments)
        sums = pass.sums
        if pass.changed == 0 && !relocated { break }
    }
    return Codebook(centroids: centroids, assignments: assignments)
}

/// The k-means objective Σᵢ (wᵢ − c_{a(i)})², in Double.
public func kMeansObjective(_ w: UnsafePointer<Float>, count: Int, codebook: Codebook) -> Double {
    precondition(codebook.assignments.count == count, "codebook has \(codebook.assignments.count) assignments for \(count) weights")
    var total = 0.0
    for i in 0..<count {
        let d = Double(w[i]) - Double(codebook.value(at: i))
        total += d * d
    }
    return total
}

/// The gradient of the loss with respect to each centroid: the sum of the gradients of the weights
/// that share it (Han et al. 2016, §3.3, eq. 3), for fine-tuning the codebook.
public func centroidGradients(_ grad: UnsafePointer<Float>, count: Int, codebook: Codebook) -> [Float] {
    precondition(codebook.assignments.count == count, "codebook has \(codebook.assignments.count) assignments for \(count) gradients")
    var sums = [Double](repeating: 0, count: codebook.centroids.count)
    for i in 0..<count { sums[Int(codebook.assignments[i])] += Double(grad[i]) }
    return sums.map { Float($0) }
}

/// Write each weight's shared value: `into[i] = centroids[assignments[i]]`.
public func reconstruct(_ codebook: Codebook, into p: UnsafeMutablePointer<Float>) {
    codebook.centroids.withUnsafeBufferPointer { c in
        for (i, a) in codebook.assignments.enumerated() { p[i] = c[Int(a)] }
    }
}

// MARK: - Lloyd's steps

/// Per-cluster sums of one assignment pass.
private struct ClusterSums {
    var totals: [Double]
    var counts: [Int]
}

/// Weights per block of the assignment pass: blocks are fixed so sums are added in the same order
/// whatever the thread count, and a seed replays bit for bit on any machine.
private let assignmentBlock = 1 << 16

/// Assign every weight to its nearest centroid (binary search over midpoints; a weight on a
/// midpoint goes to the lower centroid) and return the per-cluster sums and how many assignments
/// changed.
@discardableResult
private func assign(_ w: UnsafePointer<Float>, count: Int, centroids: [Float],
                    into assignments: inout [UInt8]) -> (sums: ClusterSums, changed: Int) {
    let k = centroids.count
    let midpoints = (0..<max(k - 1, 0)).map { centroids[$0] + (centroids[$0 + 1] - centroids[$0]) / 2 }
    let blocks = (count + assignmentBlock - 1) / assignmentBlock
    var totals = [Double](repeating: 0, count: blocks * k)
    var counts = [Int](repeating: 0, count: blocks * k)
    var changed = [Int](repeating: 0, count: blocks)
    midpoints.withUnsafeBufferPointer { mid in
        assignments.withUnsafeMutableBufferPointer { a in
            totals.withUnsafeMutableBufferPointer { tot in
                counts.withUnsafeMutableBufferPointer { cnt in
                    changed.withUnsafeMutableBufferPointer { chg in
                        parallelRanges(blocks, minimumPerThread: 1) { range in
                            for b in range {
                                let base = b * k
                                var moved = 0
                                for i in (b * assignmentBlock)..<min(count, (b + 1) * assignmentBlock) {
                                    let x = w[i]
                                    var lo = 0, hi = mid.count           // first midpoint ≥ x
                                    while lo < hi {
                                        let m = (lo + hi) >> 1
                                        if mid[m] < x { lo = m + 1 } else { hi = m }
                                    }
                                    if a[i] != UInt8(lo) { moved += 1; a[i] = UInt8(lo) }
                                    tot[base + lo] += Double(x)
                                    cnt[base + lo] += 1
                                }
                                chg[b] = moved
                            }
                        }
                    }
                }
            }
        }
    }
    var sums = ClusterSums(totals: [Double](repeating: 0, count: k), counts: [Int](repeating: 0, count: k))
    for b in 0..<blocks {
        for j in 0..<k {
            sums.totals[j] += totals[b * k + j]
            sums.counts[j] += counts[b * k + j]
        }
    }
    return (sums, changed.reduce(0, +))
}

/// Move empty cluster `j` onto the weight farthest from its nearest current centroid (lowest
/// index among equals). That weight's error drops to zero and no other error grows, so the
/// objective does not increase.
private func relocateEmpty(_ j: Int, _ w: UnsafePointer<Float>, count: Int, centroids: inout [Float]) {
    let others = centroids.enumerated().filter { $0.offset != j }.map(\.element).sorted()
    guard !others.isEmpty else { return }
    var farthest = -1.0, pick = 0
    for i in 0..<count {
        let d = nearestDistance(Double(w[i]), sorted: others)
        if d > farthest { farthest = d; pick = i }
    }
    if farthest > 0 { centroids[j] = w[pick] }
}

/// |x − c| for the centroid c in `sorted` nearest to x.
private func nearestDistance(_ x: Double, sorted: [Float]) -> Double {
    var lo = 0, hi = sorted.count
    while lo < hi {
        let m = (lo + hi) >> 1
        if Double(sorted[m]) < x { lo = m + 1 } else { hi = m }
    }
    var best = Double.infinity
    if lo < sorted.count { best = abs(Double(sorted[lo]) - x) }
    if lo > 0 { best = min(best, abs(x - Double(sorted[lo - 1]))) }
    return best
}

// MARK: - Initialisation

/// The distinct values of `w` if there are at most `limit` of them, nil otherwise (stops early).
private func distinctValues(_ w: UnsafePointer<Float>, count: Int, atMost limit: Int) -> [Float]? {
    var seen = Set<Float>(minimumCapacity: limit + 1)
    for i in 0..<count {
        // -0.0 and 0.0 are one value; Set already treats them as equal.
        seen.insert(w[i])
        if seen.count > limit { return nil }
    }
    return Array(seen)
}

/// `clusters` centroids evenly spaced over [min w, max w].
private func linearCentroids(_ w: UnsafePointer<Float>, count: Int, clusters: Int) -> [Float] {
    var lo = w[0], hi = w[0]
    for i in 1..<count { lo = min(lo, w[i]); hi = max(hi, w[i]) }
    guard clusters > 1 else { return [lo + (hi - lo) / 2] }
    let step = (Double(hi) - Double(lo)) / Double(clusters - 1)
    return (0..<clusters).map { j in j == clusters - 1 ? hi : Float(Double(lo) + step * Double(j)) }
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007), sorted. Called only when `w` holds more
/// distinct values than `clusters`, so every draw finds a weight at positive distance.
private func plusPlusCentroids(_ w: UnsafePointer<Float>, count: Int, clusters: Int, seed: UInt64) -> [Float] {
    var rng = RandomSource(seed: seed)
    var centroids = [w[rng.nextInt(below: count)]]
    var distance = [Double](repeating: 0, count: count)       // squared distance to nearest centroid
    for i in 0..<count {
        let d = Double(w[i]) - Double(centroids[0])
        distance[i] = d * d
    }
    while centroids.count < clusters {
        let total = distance.reduce(0, +)
        guard total > 0 else { break }
        let target = rng.nextDouble() * total
        var running = 0.0, pick = -1
        for i in 0..<count where distance[i] > 0 {
            running += distance[i]
            pick = i
            if running > target { break }
        }
        let c = w[pick]
        centroids.append(c)
        for i in 0..<count {
            let d = Double(w[i]) - Double(c)
            distance[i] = min(distance[i], d * d)
        }
    }
    return centroids.sorted()
}
