import Engine

/// Non-dominated rank and crowding distance of every point of a set: the order NSGA-II keeps and
/// mates by (Deb et al. 2002). Ranks follow Deb's constrained domination.
///
///     let ranked = RankedPoints([[1, 2], [2, 1], [2, 2]], violations: [0, 0, 0])
///     ranked.rank        // [0, 0, 1]
///     ranked.best(3)     // [0, 1, 2]
public struct RankedPoints: Sendable {
    /// Front of each point, 0 for the non-dominated.
    public let rank: [Int]
    /// Crowding distance of each point within its own front.
    public let crowding: [Double]

    public init(_ points: [[Double]], violations: [Double]) {
        var rank = [Int](repeating: 0, count: points.count)
        var crowding = [Double](repeating: 0, count: points.count)
        for (r, front) in ParetoFront.sort(points, violations: violations).enumerated() {
            for (i, d) in zip(front, ParetoFront.crowdingDistance(front, in: points)) {
                rank[i] = r; crowding[i] = d
            }
        }
        self.rank = rank; self.crowding = crowding
    }

    /// The ranks and crowding distances of the points at `indices`, as they were in this set.
    public func subset(_ indices: [Int]) -> RankedPoints {
        RankedPoints(rank: indices.map { rank[$0] }, crowding: indices.map { crowding[$0] })
    }

    private init(rank: [Int], crowding: [Double]) { self.rank = rank; self.crowding = crowding }

    /// Whether point `i` goes before point `j`: a lower rank, or the same rank and a larger
    /// crowding distance (the crowded-comparison operator).
    public func prefers(_ i: Int, over j: Int) -> Bool {
        rank[i] != rank[j] ? rank[i] < rank[j] : crowding[i] > crowding[j]
    }

    /// NSGA-II's environmental selection: the indices of the `count` best points, whole fronts
    /// first and the last front cut by crowding distance (ties by index), in that order.
    public func best(_ count: Int) -> [Int] {
        let order = rank.indices.sorted { prefers($0, over: $1) || (!prefers($1, over: $0) && $0 < $1) }
        return Array(order.prefix(count))
    }
}

/// Binary tournament: draw two distinct members, keep the preferred one (a coin decides a tie).
///
///     var rng = RandomSource(seed: 7)
///     BinaryTournament().select(among: 10, prefers: ranked.prefers, using: &rng)
public struct BinaryTournament: Hashable, Sendable {
    public init() {}

    /// The index of the winner among `count` members (0 when there is only one).
    public func select(among count: Int, prefers: (Int, Int) -> Bool, using rng: inout RandomSource) -> Int {
        precondition(count > 0, "a tournament needs at least one member")
        guard count > 1 else { return 0 }
        let a = rng.nextInt(below: count)
        var b = rng.nextInt(below: count - 1)
        if b >= a { b += 1 }
        if prefers(a, b) { return a }
        if prefers(b, a) { return b }
        return rng.nextDouble() < 0.5 ? a : b
    }
}
