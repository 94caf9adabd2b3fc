import Foundation

/// Ranks with ties averaged: the smallest value gets rank 1 (or the largest, `higherIsBetter`).
///
///     averageRanks([3, 1, 1])   // [3, 1.5, 1.5]
func averageRanks(_ values: [Double], higherIsBetter: Bool = false) -> [Double] {
    let order = values.indices.sorted { higherIsBetter ? values[$0] > values[$1] : values[$0] < values[$1] }
    var ranks = [Double](repeating: 0, count: values.count)
    var start = 0
    while start < order.count {
        var end = start
        while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
        let rank = Double(start + end) / 2 + 1
        for k in start...end { ranks[order[k]] = rank }
        start = end + 1
    }
    return ranks
}

/// The two-sided p-value of the Mann–Whitney U test (Mann & Whitney 1947) that samples `a` and `b`
/// come from the same distribution: the normal approximation with the tie correction and a
/// continuity correction of ½ (adequate from about 8 values per sample). 1 when every value ties.
///
///     mannWhitneyP([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16])   // ≈ 0.00094
func mannWhitneyP(_ a: [Double], _ b: [Double]) -> Double {
    let n1 = Double(a.count), n2 = Double(b.count)
    guard n1 > 0, n2 > 0 else { return 1 }
    let ranks = averageRanks(a + b)
    let u = ranks.prefix(a.count).reduce(0, +) - n1 * (n1 + 1) / 2
    var counts: [Double: Int] = [:]
    for v in a + b { counts[v, default: 0] += 1 }
    let n = n1 + n2
    let ties = counts.values.reduce(0.0) { $0 + Double($1 * $1 * $1 - $1) }
    let variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    guard variance > 0 else { return 1 }
    let z = max(abs(u - n1 * n2 / 2) - 0.5, 0) / variance.squareRoot()
    return erfc(z / 2.0.squareRoot())
}
