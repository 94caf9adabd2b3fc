import Foundation

/// PED-ANOVA: how much each parameter decides whether a trial lands among the best, in closed
/// form (Watanabe, Bansal & Hutter 2023, "PED-ANOVA: Efficiently Quantifying Hyperparameter
/// Importance in Arbitrary Subspaces", IJCAI; Algorithm 1 with Eqs. (15) and (16)).
///
/// Sort the trials by the (minimised) objective. The region D_γ is the best γ of them (γ = 1: all
/// of them), the target D_γ' ⊂ D_γ the best γ' (γ' = 0.1 by default). Within the region, the
/// indicator b(x) = 1[x ∈ D_γ'] has mean γ'/γ and, for parameter d, the main effect
/// E[b | x_d] − γ'/γ = (γ'/γ) · (p_d(x_d | D_γ') / p_d(x_d | D_γ) − 1), whose variance over
/// p_d(· | D_γ) is the f-ANOVA importance of d in the region (Hutter, Hoos & Leyton-Brown 2014):
///
///     v_d = (γ'/γ)² · D_PE(p_d(· | D_γ') ‖ p_d(· | D_γ)),   D_PE(p ‖ q) = ∫ q (p/q − 1)² dx      (16)
///
/// with p_d(· | D) the one-dimensional Parzen estimator of parameter d over the trials D (15);
/// `MarginalDensity` holds it on a grid, so the integral is a sum. Importances are the v_d
/// normalised to sum to 1. The two estimators share one bandwidth — the target's, by Scott's
/// rule — so each kernel of the target's estimator is one of the region's, p/q ≤ |D_γ|/|D_γ'|
/// everywhere, and the divergence never blows up in the tails.
///
/// A parameter that is inactive in some trials (its option not chosen) is measured where it is
/// active: over the region's active trials A, with the share |D_γ' ∩ A| / |D_γ ∩ A| in place of
/// γ'/γ, and weighted by the share |D_γ ∩ A| / |D_γ| of the region it covers — its main effect
/// is zero where it does not exist. A parameter active in fewer than two target trials explains
/// nothing measurable and gets 0. Trials tied with the last one in the region or the target are
/// taken in with it, so the sets do not depend on the order of the trials; nothing is random.
///
///     let ped = PEDANOVA()
///     let v = ped.variances([ImportanceColumn(domain: x1, values: xs), ImportanceColumn(domain: x2, values: ys)], losses: f)
///     PEDANOVA.normalized(v)   // [0.93, 0.07]
public struct PEDANOVA: Sendable {
    public struct Options: Hashable, Sendable {
        /// γ': the fraction of trials whose membership is explained.
        public let targetQuantile: Double
        /// γ: the fraction of trials the importance is local to (1: the whole study).
        public let regionQuantile: Double
        /// Grid points a continuous parameter's density is held at (a domain with at most this
        /// many values uses its values).
        public let gridPoints: Int

        public init(targetQuantile: Double = 0.1, regionQuantile: Double = 1, gridPoints: Int = 100) {
            precondition(targetQuantile > 0 && targetQuantile < regionQuantile && regionQuantile <= 1,
                         "quantiles must satisfy 0 < target < region ≤ 1, got \(targetQuantile) and \(regionQuantile)")
            precondition(gridPoints >= 2, "at least 2 grid points, got \(gridPoints)")
            self.targetQuantile = targetQuantile; self.regionQuantile = regionQuantile; self.gridPoints = gridPoints
        }
    }

    /// The fewest trials a target set may hold: one point gives a kernel, not a density.
    public static let minimumTarget = 2

    public let options: Options
    public init(_ options: Options = Options()) { self.options = options }

    /// The fewest trials whose best γ' hold `minimumTarget` whole trials: ⌈2 / γ'⌉ (20 at γ' = 0.1).
    public var minimumTrials: Int { count(1 / options.targetQuantile, of: Self.minimumTarget) }

    /// ⌈q · n⌉ (q · n a hair above a whole number counts as that number).
    func count(_ q: Double, of n: Int) -> Int { Int((q * Double(n) - 1e-9).rounded(.up)) }

    /// The trials in the order of their losses (ties by index), and how many of the first of
    /// them are the region and the target: ⌈γ · n⌉ and ⌈γ' · n⌉ (at least `minimumTarget`), each
    /// with every trial tied with its last.
    public func split(_ losses: [Double]) -> (order: [Int], region: Int, target: Int) {
        let n = losses.count
        let order = losses.indices.sorted { (losses[$0], $0) < (losses[$1], $1) }
        func top(_ k: Int) -> Int {
            var end = Swift.min(Swift.max(k, Self.minimumTarget), n)
            while end < n, losses[order[end]] == losses[order[end - 1]] { end += 1 }
            return end
        }
        let region = top(count(options.regionQuantile, of: n))
        return (order, region, Swift.min(top(count(options.targetQuantile, of: n)), region))
    }

    /// The v_d of Eq. (16), one per column, in the columns' order.
    /// - Parameters:
    ///   - columns: each parameter's values over the trials (nil where inactive).
    ///   - losses: the objective of each trial, minimised (a maximised metric negated), finite.
    /// - Precondition: every column has one value per loss, and there are `minimumTrials` losses.
    public func variances(_ columns: [ImportanceColumn], losses: [Double]) -> [Double] {
        let n = losses.count
        precondition(n >= minimumTrials, "PED-ANOVA needs \(minimumTrials) trials, got \(n)")
        let (order, regionCount, targetCount) = split(losses)
        // rank[i]: trial i's place in the order.
        var rank = [Int](repeating: 0, count: n)
        for (r, i) in order.enumerated() { rank[i] = r }

        return columns.map { column in
            precondition(column.values.count == n, "\(column.values.count) values for \(n) trials")
            // Both ascending, so that the sums are the same whatever order the trials came in.
            var target: [Double] = [], region = regionCount == n ? column.sortedCoordinates : []
            for (i, value) in column.values.enumerated() {
                guard let value, rank[i] < regionCount else { continue }
                let x = column.coordinate(value)
                if regionCount < n { region.append(x) }
                if rank[i] < targetCount { target.append(x) }
            }
            if regionCount < n { region.sort() }
            target.sort()
            // Where every region trial is a target one, nothing separates them.
            guard target.count >= Self.minimumTarget, target.count < region.count else { return 0 }
            let support = column.support(gridPoints: options.gridPoints)
            let bandwidth = support.bandwidth(for: target)
            let p = MarginalDensity(support, observations: target, bandwidth: bandwidth)
            let q = MarginalDensity(support, observations: region, bandwidth: bandwidth)
            let share = Double(target.count) / Double(region.count)
            let covered = Double(region.count) / Double(regionCount)
            return covered * share * share * p.pearsonDivergence(from: q)
        }
    }

    /// `variances` scaled to sum to 1 (all zeros stay zeros: nothing separates the best trials).
    public static func normalized(_ variances: [Double]) -> [Double] {
        let total = variances.reduce(0, +)
        guard total > 0 else { return variances.map { _ in 0 } }
        return variances.map { $0 / total }
    }
}

/// One parameter's values over a study's trials, as PED-ANOVA reads them.
///
///     ImportanceColumn(domain: .integer(lower: 1, upper: 4), values: [2, nil, 4])   // inactive in trial 1
public struct ImportanceColumn: Sendable {
    public let domain: Domain
    /// Per trial: the option index, integer or real the trial took; nil where it is inactive.
    public let values: [Double?]
    /// The coordinates of every active value, ascending: the region when it is every trial.
    let sortedCoordinates: [Double]

    public init(domain: Domain, values: [Double?]) {
        self.domain = domain; self.values = values
        sortedCoordinates = values.compactMap { $0.map { Self.coordinate($0, in: domain) } }.sorted()
    }

    /// Where a value sits in its estimator: its option index, or its unit coordinate (the
    /// transformed space: log for a log-uniform prior).
    func coordinate(_ value: Double) -> Double { Self.coordinate(value, in: domain) }

    static func coordinate(_ value: Double, in domain: Domain) -> Double {
        domain.isCategorical ? value : domain.unit(of: value)
    }

    /// The points the densities are held at: the options; a small discrete domain's values;
    /// else `gridPoints` cell centres across [0, 1]. A kernel is never narrower than half the
    /// spacing of the points, so it always reaches a neighbour.
    func support(gridPoints: Int) -> MarginalDensity.Support {
        if case .choice(let options) = domain { return .categorical(options: options.count) }
        if let count = domain.cardinality, count <= gridPoints, let values = domain.allValues {
            return .numeric(points: values.map(domain.unit(of:)), minimumBandwidth: 0.5 / Double(Swift.max(count, 1)))
        }
        let g = Double(gridPoints)
        return .numeric(points: (0..<gridPoints).map { (Double($0) + 0.5) / g }, minimumBandwidth: 0.5 / g)
    }
}
