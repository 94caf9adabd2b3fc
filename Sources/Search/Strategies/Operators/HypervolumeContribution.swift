/// The exclusive hypervolume contribution of each point of a mutually non-dominated set: the
/// volume that point alone dominates below `reference` (all objectives minimised). SMS-EMOA drops
/// the least contributor (Beume, Naujoks & Emmerich 2007).
///
/// Exact: a sweep over the sorted front for two objectives (O(n log n)), one sweep up the third
/// objective over a 2-D staircase for three, and beyond that the box from p to the reference minus
/// the hypervolume of {max(p, q) : q ≠ p}. Points not below the reference in every objective
/// contribute 0, and so may a point equal to another.
///
///     hypervolumeContributions([[1, 3], [2, 2], [3, 1]], reference: [4, 4])   // [1, 1, 1]
public func hypervolumeContributions(_ points: [[Double]], reference: [Double]) -> [Double] {
    let d = reference.count
    precondition(points.allSatisfy { $0.count == d }, "points and reference differ in objectives")
    let inside = points.map { p in zip(p, reference).allSatisfy { $0 < $1 } }
    if d == 2 { return contributions2D(points, inside: inside, reference: reference) }
    if d == 3 { return contributions3D(points, inside: inside, reference: reference) }
    return points.indices.map { i in
        guard inside[i] else { return 0 }
        let p = points[i]
        var box = 1.0
        for m in 0..<d { box *= reference[m] - p[m] }
        var covering: [[Double]] = []
        for (j, q) in points.enumerated() where j != i && inside[j] {
            covering.append(zip(p, q).map { max($0, $1) })
        }
        let covered = hypervolume(covering, reference: reference)
        return max(box - covered, 0)
    }
}

/// Two objectives: sorted by the first, each point owns the rectangle up to its right neighbour's
/// first objective and its left neighbour's second.
private func contributions2D(_ points: [[Double]], inside: [Bool], reference: [Double]) -> [Double] {
    let order = points.indices.filter { inside[$0] }.sorted {
        points[$0][0] != points[$1][0] ? points[$0][0] < points[$1][0] : points[$0][1] < points[$1][1]
    }
    var result = [Double](repeating: 0, count: points.count)
    for (k, i) in order.enumerated() {
        let right = k + 1 < order.count ? points[order[k + 1]][0] : reference[0]
        let up = k > 0 ? points[order[k - 1]][1] : reference[1]
        result[i] = max(right - points[i][0], 0) * max(up - points[i][1], 0)
    }
    return result
}

/// Three objectives in one sweep up the third (after Emmerich & Fonseca 2011). The points seen so
/// far form a 2-D staircase in the first two objectives; a step owns the cell between its two
/// neighbours minus what the steps it once covered (lower in the third objective) still dominate
/// there. A step banks area × height until an insertion changes its cell or covers it, and the
/// rest at the reference. O(n · staircase length).
private func contributions3D(_ points: [[Double]], inside: [Bool], reference: [Double]) -> [Double] {
    let order = points.indices.filter { inside[$0] }.sorted { points[$0][2] < points[$1][2] }
    var result = [Double](repeating: 0, count: points.count)
    var area = [Double](repeating: 0, count: points.count)
    var since = [Double](repeating: 0, count: points.count)
    var hidden = [[Int]](repeating: [], count: points.count)  // covered steps, x ascending, y descending
    var steps: [Int] = []                                    // point indices, x ascending, y descending
    func x(_ i: Int) -> Double { points[i][0] }
    func y(_ i: Int) -> Double { points[i][1] }
    func settle(_ k: Int, at z: Double) {                    // bank the area so far, recompute it for the cell
        let i = steps[k]
        result[i] += area[i] * (z - since[i])
        since[i] = z
        let right = k + 1 < steps.count ? x(steps[k + 1]) : reference[0]
        let top = k > 0 ? y(steps[k - 1]) : reference[1]
        hidden[i].removeAll { x($0) >= right || y($0) >= top }
        var a = (right - x(i)) * (top - y(i))
        for (j, h) in hidden[i].enumerated() {
            a -= ((j + 1 < hidden[i].count ? x(hidden[i][j + 1]) : right) - x(h)) * (top - y(h))
        }
        area[i] = a
    }
    for i in order {
        let z = points[i][2]
        var at = 0
        while at < steps.count, x(steps[at]) < x(i) { at += 1 }
        if (at > 0 && y(steps[at - 1]) <= y(i)) || (at < steps.count && x(steps[at]) == x(i) && y(steps[at]) <= y(i)) { continue }
        var end = at
        while end < steps.count, y(steps[end]) >= y(i) {       // steps the new point covers stop here
            result[steps[end]] += area[steps[end]] * (z - since[steps[end]])
            end += 1
        }
        hidden[i] = Array(steps[at..<end])
        steps.replaceSubrange(at..<end, with: [i])
        since[i] = z
        for k in max(at - 1, 0)...min(at + 1, steps.count - 1) { settle(k, at: z) }
    }
    for k in steps.indices { settle(k, at: reference[2]) }
    return result
}
