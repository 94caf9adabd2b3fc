import Foundation
import Engine

/// Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel
/// Hyperparameter Tuning"), for one objective or several.
///
/// Rungs sit at resources r_k = min_resource·η^k ≤ max_resource. A trial reaches rung k at the
/// first step it records that is ≥ r_k (exactly r_k when the evaluator reports every step), and
/// its objectives there are its rung values. It then continues only if it ranks in the top 1/η of
/// the trials that have reached that rung so far — rank·η < n, counting every trial that got
/// there, stopped or not — and always while fewer than η trials have. Reaching the top rung
/// (max_resource) ends a trial anyway, so it stops nothing.
///
/// Trials at a rung are ranked as NSGA-II ranks a population (Deb et al. 2002): by
/// non-dominated sorting, then by decreasing crowding distance within a front, ties by trial
/// number. So with several objectives a trial that is worse in one objective but not dominated
/// keeps running while dominated ones stop; with one objective this is sorting by value.
///
///     let asha = try SuccessiveHalving(minResource: 1, maxResource: 27, reductionFactor: 3)
///     asha.rungs                       // [1, 3, 9, 27]
///     asha.record(number: 5, step: 1, objectives: [0.42])
///     if asha.shouldStop(number: 5, step: 1) { /* end trial 5 */ }
public final class SuccessiveHalving: EarlyStopping {
    public let minResource: Int
    public let maxResource: Int
    /// η ≥ 2.
    public let reductionFactor: Int
    /// Length of every objective vector recorded; others are ignored.
    public let objectives: Int
    /// r_k = min_resource·η^k ≤ max_resource, ascending.
    public let rungs: [Int]

    private struct Arrival { var step: Int; var objectives: [Double] }
    /// Per rung: trial number → when it got there and its objectives then.
    private var arrivals: [[Int: Arrival]]
    private let lock = NSLock()

    /// - Throws: `ConfigError` at `early_stopping.<key>` for a resource or factor out of range.
    public init(minResource: Int, maxResource: Int, reductionFactor: Int, objectives: Int = 1) throws {
        try SuccessiveHalving.validate(minResource: minResource, maxResource: maxResource, reductionFactor: reductionFactor, objectives: objectives)
        self.minResource = minResource
        self.maxResource = maxResource
        self.reductionFactor = reductionFactor
        self.objectives = objectives
        rungs = SuccessiveHalving.rungs(minResource: minResource, maxResource: maxResource, reductionFactor: reductionFactor)
        arrivals = [[Int: Arrival]](repeating: [:], count: rungs.count)
    }

    /// r_k = min·η^k for k = 0, 1, ... while r_k ≤ max.
    ///
    ///     SuccessiveHalving.rungs(minResource: 2, maxResource: 50, reductionFactor: 3)   // [2, 6, 18]
    public static func rungs(minResource: Int, maxResource: Int, reductionFactor: Int) -> [Int] {
        guard minResource >= 1, reductionFactor >= 2 else { return [] }
        var rungs: [Int] = []
        var r = minResource
        while r <= maxResource {
            rungs.append(r)
            let (next, overflow) = r.multipliedReportingOverflow(by: reductionFactor)
            if overflow { break }
            r = next
        }
        return rungs
    }

    public func record(number: Int, step: Int, objectives values: [Double]) {
        guard values.count == objectives else { return }
        // A non-finite value (a diverged loss) counts as the worst possible.
        let clean = values.map { $0.isFinite ? $0 : Double.greatestFiniteMagnitude }
        lock.lock(); defer { lock.unlock() }
        for (k, r) in rungs.enumerated() where r <= step {
            if let arrival = arrivals[k][number] {
                // The same step recorded again (a re-run trial): its latest values count.
                if arrival.step == step { arrivals[k][number]?.objectives = clean }
            } else {
                arrivals[k][number] = Arrival(step: step, objectives: clean)
            }
        }
    }

    public func shouldStop(number: Int, step: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        for (k, r) in rungs.enumerated() where r < maxResource && arrivals[k][number]?.step == step {
            if !promotable(number, atRung: k) { return true }
        }
        return false
    }

    /// Trials that have reached rung `k` so far.
    public func count(atRung k: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        return arrivals[k].count
    }

    /// Whether trial `number` is in the top 1/η at rung `k` (or the rung has fewer than η trials).
    private func promotable(_ number: Int, atRung k: Int) -> Bool {
        let n = arrivals[k].count
        guard n >= reductionFactor, let mine = arrivals[k][number]?.objectives else { return true }
        if objectives == 1 {
            // Sorting by value, ties by number: the position is how many come before.
            var before = 0
            for (other, arrival) in arrivals[k] where (arrival.objectives[0], other) < (mine[0], number) { before += 1 }
            return before * reductionFactor < n
        }
        // Whoever dominates this trial sits in an earlier front: enough of them decide alone.
        var dominators = 0
        for arrival in arrivals[k].values where ParetoFront.dominates(arrival.objectives, mine) { dominators += 1 }
        if dominators * reductionFactor >= n { return false }
        let competitors = arrivals[k].map { (number: $0.key, objectives: $0.value.objectives) }
        guard let position = SuccessiveHalving.ranking(competitors).firstIndex(of: number) else { return true }
        return position * reductionFactor < n
    }

    /// Trial numbers best first: by non-dominated front, then by decreasing crowding distance
    /// within a front, then by number (Deb et al. 2002). One objective sorts by value. O(M·N²).
    public static func ranking(_ trials: [(number: Int, objectives: [Double])]) -> [Int] {
        let trials = trials.sorted { $0.number < $1.number }
        if trials.first?.objectives.count == 1 {
            return trials.sorted { ($0.objectives[0], $0.number) < ($1.objectives[0], $1.number) }.map(\.number)
        }
        let points = trials.map(\.objectives)
        var order: [Int] = []
        for front in ParetoFront.sort(points) {
            let distance = ParetoFront.crowdingDistance(front, in: points)
            let ranked = front.indices.sorted {
                distance[$0] != distance[$1] ? distance[$0] > distance[$1] : front[$0] < front[$1]
            }
            order += ranked.map { trials[front[$0]].number }
        }
        return order
    }
}

extension SuccessiveHalving {
    /// The checks every multi-fidelity stopper shares, as `ConfigError`s at `early_stopping.<key>`.
    static func validate(minResource: Int, maxResource: Int, reductionFactor: Int, objectives: Int) throws {
        guard minResource >= 1 else {
            throw ConfigError(keyPath: "early_stopping.min_resource", reason: "must be at least 1, got \(minResource)")
        }
        guard maxResource >= minResource else {
            throw ConfigError(keyPath: "early_stopping.max_resource",
                              reason: "must be at least min_resource (\(minResource)), got \(maxResource)")
        }
        guard reductionFactor >= 2 else {
            throw ConfigError(keyPath: "early_stopping.reduction_factor", reason: "must be at least 2, got \(reductionFactor)")
        }
        guard objectives >= 1 else {
            throw ConfigError(keyPath: "objectives", reason: "early stopping needs at least one objective, got \(objectives)")
        }
    }
}
