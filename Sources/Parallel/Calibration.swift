import Engine
import Hardware

/// A profile fitted to measured runs: `autotune calibrate`.
///
///     let result = try Calibration.fit(runs, on: a100, factors: [.matmul])
///     result.profile          // the profile with its fitted efficiency factors
///     result.runs[0].after    // what it predicts for the first run
///
/// The efficiency factors named are fitted by least squares on the relative errors of the runs'
/// measurements (`EfficiencyFit`); every other figure of the profile stays. A run whose plan
/// breaks a constraint is an error naming the run; a plan that does not fit in the profile's
/// memory is still fitted (it ran: the measurement says so) and its row says so.
public enum Calibration {
    /// One run's measured value and the predictions before and after the fit.
    public struct Row: Codable, Sendable {
        public var name: String
        public var metric: String
        public var measured: Double
        public var before: Double
        public var after: Double
        public var errorBeforePercent: Double { 100 * (before - measured) / measured }
        public var errorAfterPercent: Double { 100 * (after - measured) / measured }
        /// Peak memory per device: measured (when given) and predicted, GiB.
        public var measuredMemoryGiB: Double?
        public var predictedMemoryGiB: Double
        /// Why the plan would not fit the profile's memory, when it would not.
        public var infeasible: String?
    }

    public struct Result: Sendable {
        public var profile: HardwareProfile
        public var factors: [EfficiencyFit.Factor]
        public var runs: [Row]
        public var evaluations: Int
    }

    /// The jobs of `runs` on `profile`, checked, with their micro-batches per step.
    /// - Throws: `PlanError` with the key prefixed by `runs[i].` for a run whose plan breaks a
    ///   constraint or the profile's formats.
    static func jobs(_ runs: [MeasuredRun], on profile: HardwareProfile) throws -> [(job: TrainingJob, microBatches: Int)] {
        try runs.enumerated().map { i, run in
            func keyed(_ key: String, _ reason: String) -> PlanError { PlanError("runs[\(i)].\(key)", reason) }
            let cluster: Cluster
            do { cluster = try Cluster(profile: profile, nodes: run.nodes, devicesPerNode: run.gpusPerNode) }
            catch let e as ConfigError { throw keyed(e.keyPath, e.reason) }
            var plan: ParallelPlan
            do { plan = try run.plan.resolved(devices: cluster.devices) } catch let e as PlanError { throw keyed("parallelism.\(e.key)", e.reason) }
            plan.precision = run.precision ?? ParallelPlan.defaultPrecision(on: profile)
            do {
                try run.model.checkCostable(microBatch: plan.microBatch)
                let m = try plan.validate(run.model, devices: cluster.devices, globalBatch: run.globalBatch)
                try plan.checkPrecision(on: profile)
                return (TrainingJob(model: run.model, globalBatch: run.globalBatch, cluster: cluster, plan: plan), m)
            } catch let e as PlanError {
                throw keyed(e.key == "precision" ? "precision" : e.key == "global_batch" ? "global_batch" : "parallelism.\(e.key)", e.reason)
            }
        }
    }

    /// Fit `factors` of `profile`'s efficiency to `runs`.
    /// - Returns: the fitted profile (named `name`, or the profile's name with "-calibrated"; the
    ///   fit added to its sources) and each run before and after.
    public static func fit(_ runs: [MeasuredRun], on profile: HardwareProfile, factors: [EfficiencyFit.Factor],
                           name: String? = nil, source: String = "measured runs") throws -> Result {
        let jobs = try jobs(runs, on: profile)
        var traces: [String: TransformerTrace] = [:]
        for (job, _) in jobs {
            let key = traceKey(job)
            if traces[key] == nil {
                traces[key] = try TransformerTrace(model: job.model, microBatch: job.plan.microBatch, precision: job.plan.precision)
            }
        }
        func estimates(_ e: HardwareProfile.Efficiency) throws -> [TrainingEstimate] {
            var p = profile
            p.efficiency = e
            return try jobs.map { job, m in
                var j = job
                j.cluster = try Cluster(profile: p, nodes: job.cluster.nodes, devicesPerNode: job.cluster.devicesPerNode)
                return j.estimate(trace: traces[traceKey(job)]!, microBatches: m)
            }
        }
        let fit = try EfficiencyFit.leastSquares(profile.efficiency, factors: factors) { e in
            zip(runs, try estimates(e)).map { run, est in (run.value(of: est) - run.measured) / run.measured }
        }
        let before = try estimates(profile.efficiency), after = try estimates(fit.efficiency)
        var fitted = profile
        fitted.efficiency = fit.efficiency
        fitted.name = name ?? profile.name + "-calibrated"
        let described = factors.map { "\($0.rawValue) \(formatted(EfficiencyFit.value(fit.efficiency, $0)))" }.joined(separator: ", ")
        fitted.sources.append("Calibrated from \(profile.name) by autotune calibrate on \(runs.count) run\(runs.count == 1 ? "" : "s") of \(source): "
                              + "least squares on the relative errors of the measurements; fitted \(described)")
        let rows = runs.indices.map { i in
            Row(name: runs[i].name, metric: runs[i].metric.rawValue, measured: runs[i].measured,
                before: runs[i].value(of: before[i]), after: runs[i].value(of: after[i]),
                measuredMemoryGiB: runs[i].peakMemoryGiB, predictedMemoryGiB: after[i].memory.total / 1_073_741_824,
                infeasible: after[i].infeasible)
        }
        return Result(profile: fitted, factors: factors, runs: rows, evaluations: fit.evaluations)
    }

    static func traceKey(_ job: TrainingJob) -> String {
        let m = job.model
        return "\(m.layers)/\(m.hidden)/\(m.heads)/\(m.sequenceLength)/\(m.vocabulary)/\(m.mlpRatio)/\(job.plan.microBatch)/\(job.plan.precision.rawValue)"
    }

    static func formatted(_ v: Double) -> String {
        let r = (v * 10_000).rounded() / 10_000
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
