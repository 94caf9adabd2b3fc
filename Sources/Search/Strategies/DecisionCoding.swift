import Engine

/// How one dimension of a search space becomes a discrete decision of a policy, and back.
///
/// A choice picks one of its options. A finite numeric domain (an integer range, a quantised
/// bounded real) with at most `bins` values picks one of its values. Any other numeric domain is
/// cut into `bins` equal cells of the unit interval (see `Domain`): the decision picks a cell and
/// the value is a uniform draw inside it — for a finite domain, one of the values whose unit
/// coordinate lies in the cell, cells holding none being left out — so the policy learns where
/// to look while values stay spread within a cell.
///
///     let coding = DecisionCoding(domain: .integer(lower: 1, upper: 100), bins: 8)
///     coding.classes                        // 8
///     coding.decision(for: 7)               // 0: the first cell holds 1...12
struct DecisionCoding {
    let domain: Domain
    let bins: Int
    /// The values of each class, ascending, for a domain enumerated value by value; nil when class
    /// k is the unit cell [k/bins, (k+1)/bins).
    let groups: [[Double]]?
    /// Every enumerated value with its class, sorted by value (to decode told values).
    private let lookup: [(value: Double, decision: Int)]

    /// Finite domains up to this many values are enumerated; larger ones are treated as cells of
    /// the unit interval like continuous domains.
    static let enumerationLimit = 1 << 14

    init(domain: Domain, bins: Int) {
        precondition(bins >= 2, "bins must be at least 2, got \(bins)")
        self.domain = domain
        self.bins = bins
        guard let count = domain.cardinality, count <= DecisionCoding.enumerationLimit,
              let values = domain.allValues, !values.isEmpty else {
            groups = nil; lookup = []; return
        }
        if domain.isCategorical || values.count <= bins {
            groups = values.map { [$0] }
        } else {
            var cells = [[Double]](repeating: [], count: bins)
            for v in values { cells[DecisionCoding.cell(ofUnit: domain.unit(of: v), bins: bins)].append(v) }
            groups = cells.filter { !$0.isEmpty }
        }
        var lookup: [(value: Double, decision: Int)] = []
        for (k, group) in (groups ?? []).enumerated() { for v in group { lookup.append((v, k)) } }
        self.lookup = lookup.sorted { $0.value < $1.value }
    }

    /// Number of options the policy chooses among.
    var classes: Int { groups?.count ?? bins }

    /// The value an inactive dimension carries: the first value of a finite domain, the median
    /// of a continuous one (as `SearchSpace.grid` does).
    var fixedValue: Double { domain.allValues?.first ?? domain.value(atUnit: 0.5) }

    /// The value of decision `k`, drawing inside its cell with `rng` when the cell holds more than
    /// one value.
    func value(of k: Int, using rng: inout RandomSource) -> Double {
        if let groups {
            let group = groups[k]
            return group.count == 1 ? group[0] : group[rng.nextInt(below: group.count)]
        }
        return domain.value(atUnit: (Double(k) + rng.nextDouble()) / Double(bins))
    }

    /// The decision that produces `value` (the nearest enumerated value's class for a value the
    /// policy could not have produced, as one told from outside may be).
    func decision(for value: Double) -> Int {
        guard value.isFinite else { return 0 }
        guard !lookup.isEmpty else { return DecisionCoding.cell(ofUnit: domain.unit(of: value), bins: bins) }
        // Binary search for the first value ≥ `value`, then take the nearer neighbour.
        var lo = 0, hi = lookup.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lookup[mid].value < value { lo = mid + 1 } else { hi = mid }
        }
        if lo == lookup.count { return lookup[lo - 1].decision }
        if lo > 0, value - lookup[lo - 1].value < lookup[lo].value - value { return lookup[lo - 1].decision }
        return lookup[lo].decision
    }

    /// The cell of unit coordinate `u` among `bins` equal cells (u = 1 falls in the last).
    static func cell(ofUnit u: Double, bins: Int) -> Int {
        guard u.isFinite else { return 0 }
        return Swift.min(Swift.max(Int(u * Double(bins)), 0), bins - 1)
    }
}
