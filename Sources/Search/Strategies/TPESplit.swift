import Foundation

/// How TPE divides the observations into the good ones (modelled by l) and the rest (g).
///
/// One objective: Deb's constrained order (Deb 2000) — every feasible result by its value, then
/// the infeasible ones by their violation — and the first `count` are good. With constraints this
/// is the feasibility-weighted split of c-TPE (Watanabe & Hutter 2023) reduced to one total
/// violation: an infeasible result is good only when fewer than `count` results are feasible.
///
/// Several objectives (MOTPE, Ozaki et al. 2022, "Multiobjective Tree-Structured Parzen Estimator"):
/// non-dominated fronts under constrained domination, whole fronts first; the front that does not
/// fit is cut by hypervolume contribution, the least contributor dropped one at a time (reference
/// 10% beyond the worst value seen in each objective).
///
///     TPESplit.good([[3], [1], [2]], violations: [0, 0, 0], count: 1)   // [1]
enum TPESplit {
    /// The indices of the `count` good observations, in no particular order.
    static func good(_ objectives: [[Double]], violations: [Double], count: Int) -> [Int] {
        let n = objectives.count
        guard count < n else { return Array(0..<n) }
        guard count > 0 else { return [] }
        if objectives.first?.count == 1 {
            let order = (0..<n).sorted { i, j in
                let (vi, vj) = (violations[i], violations[j])
                if (vi <= 0) != (vj <= 0) { return vi <= 0 }
                if vi > 0, vi != vj { return vi < vj }
                if objectives[i][0] != objectives[j][0] { return objectives[i][0] < objectives[j][0] }
                return i < j
            }
            return Array(order.prefix(count))
        }
        var chosen: [Int] = []
        for front in leadingFronts(objectives, violations: violations, covering: count) {
            if chosen.count + front.count <= count { chosen += front; continue }
            chosen += cut(front, to: count - chosen.count, objectives: objectives, violations: violations)
            break
        }
        return chosen
    }

    /// The first non-dominated fronts (Deb's constrained domination), each in ascending index
    /// order, until they hold at least `count` points: each front is the non-dominated set of what
    /// is left, found with an archive (a point joins unless a member dominates it, and evicts the
    /// members it dominates), O(n · front size) per front rather than the O(n²) of a full sort.
    static func leadingFronts(_ objectives: [[Double]], violations: [Double], covering count: Int) -> [[Int]] {
        var remaining = Array(objectives.indices), fronts: [[Int]] = [], covered = 0
        func dominates(_ a: Int, _ b: Int) -> Bool {
            ParetoFront.constrainedDominates(objectives[a], violation: violations[a], objectives[b], violation: violations[b])
        }
        while covered < count, !remaining.isEmpty {
            var front: [Int] = []
            for i in remaining where !front.contains(where: { dominates($0, i) }) {
                front.removeAll { dominates(i, $0) }
                front.append(i)
            }
            front.sort()
            let members = Set(front)
            remaining.removeAll { members.contains($0) }
            fronts.append(front)
            covered += front.count
        }
        return fronts
    }

    /// `keep` members of one front: by violation when infeasible, else by dropping the least
    /// hypervolume contributor until `keep` remain (ties to the later index).
    private static func cut(_ front: [Int], to keep: Int, objectives: [[Double]], violations: [Double]) -> [Int] {
        if let first = front.first, violations[first] > 0 {
            return Array(front.sorted { (violations[$0], $0) < (violations[$1], $1) }.prefix(keep))
        }
        let m = objectives[0].count
        var reference = [Double](repeating: -.infinity, count: m), lowest = [Double](repeating: .infinity, count: m)
        for (f, v) in zip(objectives, violations) where v <= 0 {
            for k in 0..<m { reference[k] = max(reference[k], f[k]); lowest[k] = min(lowest[k], f[k]) }
        }
        for k in 0..<m { reference[k] += max(0.1 * (reference[k] - lowest[k]), 1e-12) }
        var members = front
        while members.count > keep {
            let contributions = hypervolumeContributions(members.map { objectives[$0] }, reference: reference)
            var least = 0
            for i in contributions.indices where contributions[i] <= contributions[least] { least = i }
            members.remove(at: least)
        }
        return members
    }
}
