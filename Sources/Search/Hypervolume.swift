/// The hypervolume indicator: the measure of the objective space dominated by a set of points and
/// bounded by a reference point (all objectives minimised; points not strictly better than the
/// reference in every objective contribute nothing).
///
/// Exact in every dimension: a sweep for two objectives (O(n log n)), slicing along the last
/// objective down to that sweep for three (O(n² log n)), and the same slicing recursively for more
/// (correct, exponential in the worst case — fine for the front sizes a study keeps).
///
///     hypervolume([[1, 2], [2, 1]], reference: [3, 3])   // 3
public func hypervolume(_ points: [[Double]], reference: [Double]) -> Double {
    let d = reference.count
    precondition(d >= 1, "a reference point needs at least one objective")
    let inside = points.filter { p in
        precondition(p.count == d, "point of \(p.count) objectives against a reference of \(d)")
        return zip(p, reference).allSatisfy { $0 < $1 }
    }
    return sliced(inside, reference)
}

private func sliced(_ points: [[Double]], _ reference: [Double]) -> Double {
    let d = reference.count
    guard !points.isEmpty else { return 0 }
    if d == 1 { return reference[0] - points.map { $0[0] }.min()! }
    if d == 2 { return sweep2D(points, reference) }
    // Slice along the last objective: between consecutive values, the dominated cross-section is
    // the (d−1)-dimensional hypervolume of the points at or below the slice.
    let sorted = points.sorted { $0[d - 1] < $1[d - 1] }
    let lower = Array(reference.dropLast())
    var total = 0.0
    var active: [[Double]] = []
    for (i, p) in sorted.enumerated() {
        ParetoFront.insert(Array(p.dropLast()), into: &active)   // each slice sees only its own front
        let top = i + 1 < sorted.count ? sorted[i + 1][d - 1] : reference[d - 1]
        let height = top - p[d - 1]
        if height > 0 { total += height * sliced(active, lower) }
    }
    return total
}

/// Area dominated by 2-D points below `reference`: sort by the first objective, sweep the second.
private func sweep2D(_ points: [[Double]], _ reference: [Double]) -> Double {
    let sorted = points.sorted { $0[0] != $1[0] ? $0[0] < $1[0] : $0[1] < $1[1] }
    var area = 0.0
    var bestY = reference[1]
    for p in sorted where p[1] < bestY {
        area += (reference[0] - p[0]) * (bestY - p[1])
        bestY = p[1]
    }
    return area
}

/// The hypervolume of the points seen so far, in order, at `checkpoints` evenly spaced counts
/// (the last being all of them): the curve of a run's progress. A nil entry (a failed or
/// infeasible trial) counts towards the count but adds no point. The non-dominated set is kept as
/// an archive and the hypervolume recomputed only at a checkpoint after it changed.
///
///     hypervolumeHistory([[0.5, 0.5], nil, [0.25, 0.75]], reference: [1, 1], checkpoints: 3)
///     // [(1, 0.25), (2, 0.25), (3, 0.3125)]
public func hypervolumeHistory(_ points: [[Double]?], reference: [Double], checkpoints: Int) -> [(count: Int, hypervolume: Double)] {
    guard !points.isEmpty, checkpoints >= 1 else { return [] }
    let n = Double(points.count), k = Double(checkpoints)
    let marks = Set((1 ... checkpoints).map { Int((Double($0) * n / k).rounded(.up)) })
    var archive: [[Double]] = []
    var current = 0.0, changed = false
    var out: [(Int, Double)] = []
    for (i, p) in points.enumerated() {
        if let p, ParetoFront.insert(p, into: &archive) { changed = true }
        if marks.contains(i + 1) {
            if changed { current = hypervolume(archive, reference: reference); changed = false }
            out.append((i + 1, current))
        }
    }
    return out
}
