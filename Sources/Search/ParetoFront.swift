/// Pareto dominance, non-dominated sorting and crowding distance (Deb et al. 2002, "A fast and
/// elitist multiobjective genetic algorithm: NSGA-II").
///
/// Objective vectors are compared as **minimised** in every component; callers negate objectives
/// they maximise. Constrained domination follows Deb: a feasible point (violation 0) beats an
/// infeasible one, two infeasible points compare by total violation, two feasible points by
/// ordinary dominance.
///
///     let fronts = ParetoFront.sort([[1, 2], [2, 1], [2, 2]])   // [[0, 1], [2]]
public enum ParetoFront {
    /// Whether `a` dominates `b`: no worse in every objective and better in at least one.
    @inlinable
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        precondition(a.count == b.count, "objective vectors of \(a.count) and \(b.count) values")
        var better = false
        for i in a.indices {
            if a[i] > b[i] { return false }
            if a[i] < b[i] { better = true }
        }
        return better
    }

    /// Deb's constrained domination: `violation` is the total constraint violation (0 = feasible).
    public static func constrainedDominates(_ a: [Double], violation va: Double, _ b: [Double], violation vb: Double) -> Bool {
        switch (va <= 0, vb <= 0) {
        case (true, false): return true
        case (false, true): return false
        case (false, false): return va < vb
        case (true, true): return dominates(a, b)
        }
    }

    /// Fast non-dominated sorting: the indices of `points` in fronts, best first (front 0 is the
    /// Pareto front). Within a front, indices are in ascending order. O(M·N²).
    /// - Parameter violations: total constraint violation per point (nil: all feasible).
    public static func sort(_ points: [[Double]], violations: [Double]? = nil) -> [[Int]] {
        let n = points.count
        guard n > 0 else { return [] }
        let v = violations ?? [Double](repeating: 0, count: n)
        precondition(v.count == n, "\(v.count) violations for \(n) points")
        var dominatedBy = [Int](repeating: 0, count: n)      // how many points dominate i
        var dominates = [[Int]](repeating: [], count: n)      // the points i dominates
        for i in 0..<n {
            for j in (i + 1)..<n {
                if constrainedDominates(points[i], violation: v[i], points[j], violation: v[j]) {
                    dominates[i].append(j); dominatedBy[j] += 1
                } else if constrainedDominates(points[j], violation: v[j], points[i], violation: v[i]) {
                    dominates[j].append(i); dominatedBy[i] += 1
                }
            }
        }
        var fronts: [[Int]] = []
        var current = (0..<n).filter { dominatedBy[$0] == 0 }
        while !current.isEmpty {
            fronts.append(current)
            var next: [Int] = []
            for i in current {
                for j in dominates[i] {
                    dominatedBy[j] -= 1
                    if dominatedBy[j] == 0 { next.append(j) }
                }
            }
            current = next.sorted()
        }
        return fronts
    }

    /// Crowding distance of each member of one front (same order as `front`): the half-perimeter
    /// of the cuboid formed by its neighbours in every objective, normalised by that objective's
    /// range; the extremes of each objective get +∞.
    public static func crowdingDistance(_ front: [Int], in points: [[Double]]) -> [Double] {
        let k = front.count
        guard k > 2 else { return [Double](repeating: .infinity, count: k) }
        var distance = [Double](repeating: 0, count: k)
        for m in points[front[0]].indices {
            let order = (0..<k).sorted { points[front[$0]][m] < points[front[$1]][m] }
            let lo = points[front[order[0]]][m], hi = points[front[order[k - 1]]][m]
            distance[order[0]] = .infinity
            distance[order[k - 1]] = .infinity
            guard hi > lo else { continue }
            for r in 1..<(k - 1) {
                distance[order[r]] += (points[front[order[r + 1]]][m] - points[front[order[r - 1]]][m]) / (hi - lo)
            }
        }
        return distance
    }

    /// Add `point` to `archive`, a set of mutually non-dominated vectors, keeping it so: a point
    /// equal to or dominated by a member is left out (returns false); members it dominates go.
    /// Building a front this way costs O(n · front size) rather than a full sort's O(n²).
    @discardableResult
    public static func insert(_ point: [Double], into archive: inout [[Double]]) -> Bool {
        guard !archive.contains(where: { $0 == point || dominates($0, point) }) else { return false }
        archive.removeAll { dominates(point, $0) }
        archive.append(point)
        return true
    }
}
