import Engine
import Foundation
import Hardware
import Parallel

/// `autotune bench costmodel`: the training cost model against published measurements.
///
/// Calibration set: the rows of Narayanan et al. 2021, Table 1 (`PublishedThroughput.megatronTable1`),
/// achieved teraFLOP/s per GPU. Validation set, never fitted on: Korthikanti et al. 2022, Table 5
/// (`PublishedThroughput.korthikantiTable5`), model-FLOPs utilisation with selective recomputation
/// and sequence parallelism, and with full recomputation. Each row is estimated with the
/// `A100-SXM-80GB` profile, one set of efficiency factors for every row; the micro-batch (1, 2, 4
/// or 8 — neither paper gives it) is the fastest that fits, as the authors tuned theirs.
///
/// The profile's matmul factors (`matmul`, `matmul_half_intensity`: the efficiency by a product's
/// arithmetic intensity, `HardwareProfile.Efficiency.matmul(intensity:)`) are the least-squares
/// fit to the ten Megatron rows (`EfficiencyFit`) that `calibrate` repeats.
///
/// Records: `megatron.throughput_mape` and `korthikanti.mfu_mape` (mean absolute percentage
/// error, %) with the profile's own factors; with `speed`, `speed.estimate_405b_seconds` and
/// `speed.meta_study_2000_seconds` (`CostModelSpeed`); with `calibrate`, the factors fitted to
/// the Megatron rows (`megatron.calibrated.*`) and the error they give, the leave-one-out error
/// over the Megatron rows (each predicted with the factors fitted to the other nine) and over
/// all throughput rows of both tables (`all.leave_one_out.mape`, each row predicted from the
/// other seventeen — a report of how far the fit carries, not a source of any factor). With
/// `deepSpeedPython`, also `deepspeed.memory.max_error` and `.mean_error`
/// (`DeepSpeedMemoryComparison`).
public struct CostModelBenchmark: Sendable {
    public var profileName = "A100-SXM-80GB"
    public var calibrate = true
    /// Time `estimate` and a meta study (`CostModelSpeed`).
    public var speed = true
    public var microBatches = [1, 2, 4, 8]
    /// The Python of an environment with DeepSpeed: when given, the "DeepSpeed memory" table
    /// (`DeepSpeedMemoryComparison`) is added.
    public var deepSpeedPython: String?
    /// The factors a fit moves.
    public static let fittedFactors: [EfficiencyFit.Factor] = [.matmul, .matmulHalfIntensity]

    public init() {}

    /// A row's prediction: the fastest plan's value in the row's metric, and its micro-batch.
    public struct Prediction: Sendable {
        public var row: PublishedThroughput
        public var predicted: Double
        public var microBatch: Int
        public var relativeError: Double { (predicted - row.published) / row.published }
        public var errorPercent: Double { 100 * abs(relativeError) }
    }

    /// Predict `rows` on `profile`, reusing and filling `traces` (by row and micro-batch).
    public func predict(_ rows: [PublishedThroughput], on profile: HardwareProfile,
                        traces: inout [String: TransformerTrace]) throws -> [Prediction] {
        try rows.map { row in
            let cluster = try Cluster(profile: profile, nodes: row.gpus / 8, devicesPerNode: 8)
            var best: (prediction: Prediction, step: Double)?
            for b in microBatches where row.batch % (row.gpus / (row.tp * row.pp) * b) == 0 {
                let plan = row.plan(microBatch: b)
                let job = TrainingJob(model: row.model, globalBatch: row.batch, cluster: cluster, plan: plan)
                let m = try plan.validate(row.model, devices: cluster.devices, globalBatch: row.batch)
                let key = "\(row.model.layers)/\(row.model.hidden)/\(row.model.heads)/\(b)"
                let trace = try traces[key] ?? TransformerTrace(model: row.model, microBatch: b, precision: .fp16)
                traces[key] = trace
                let e = job.estimate(trace: trace, microBatches: m)
                guard e.infeasible == nil else { continue }
                if best == nil || e.time.step < best!.step {
                    best = (Prediction(row: row, predicted: row.value(of: e), microBatch: b), e.time.step)
                }
            }
            guard let best else { throw PlanError("micro_batch", "no micro-batch of \(microBatches) fits row \(row.name)") }
            return best.prediction
        }
    }

    static func mape(_ p: [Prediction]) -> Double { p.map(\.errorPercent).reduce(0, +) / Double(max(p.count, 1)) }

    /// `profile` with `fittedFactors` fitted by least squares to `rows` (relative errors).
    func fit(_ profile: HardwareProfile, rows: [PublishedThroughput], traces: inout [String: TransformerTrace]) throws -> HardwareProfile {
        var p = profile
        p.efficiency = try EfficiencyFit.leastSquares(profile.efficiency, factors: Self.fittedFactors) { e in
            var q = profile
            q.efficiency = e
            return try predict(rows, on: q, traces: &traces).map(\.relativeError)
        }.efficiency
        return p
    }

    /// Each row predicted with the factors fitted to the others.
    func leaveOneOut(_ profile: HardwareProfile, rows: [PublishedThroughput], traces: inout [String: TransformerTrace],
                     progress: ((String) -> Void)?) throws -> [Prediction] {
        try rows.indices.map { i in
            progress?("leave-one-out: \(rows[i].table) \(rows[i].name)")
            var others = rows
            others.remove(at: i)
            return try predict([rows[i]], on: try fit(profile, rows: others, traces: &traces), traces: &traces)[0]
        }
    }

    static func line(_ p: Prediction) -> String {
        String(format: "%-18@ tp %d pp %2d %4d GPUs  batch %4d  micro-batch %d  published %5.1f  predicted %6.1f %@  error %5.1f%%",
               p.row.name as NSString, p.row.tp, p.row.pp, p.row.gpus, p.row.batch, p.microBatch, p.row.published, p.predicted,
               p.row.metric.rawValue as NSString, p.errorPercent)
    }

    /// Run the benchmark: records, and one line per row for the table.
    public func run(progress: ((String) -> Void)? = nil) throws -> (records: [BenchRecord], rows: [String]) {
        let profile = try ProfileLibrary.profile(named: profileName)
        let megatron = PublishedThroughput.megatronTable1, korthikanti = PublishedThroughput.korthikantiTable5
        var traces: [String: TransformerTrace] = [:]
        let plain = try predict(megatron, on: profile, traces: &traces)
        let validation = try predict(korthikanti, on: profile, traces: &traces)
        var records = [
            BenchRecord(suite: "costmodel", name: "megatron.throughput_mape", value: Self.mape(plain), unit: "%", better: .lower),
            BenchRecord(suite: "costmodel", name: "korthikanti.mfu_mape", value: Self.mape(validation), unit: "%", better: .lower),
        ]
        let e = profile.efficiency
        var lines = [String(format: "Megatron-LM Table 1 (calibration), %@: matmul %.4f, half intensity %.1f FLOP/B", profile.name as NSString,
                            e.matmul, e.matmulHalfIntensity)]
        lines += plain.map(Self.line)
        lines += ["", "Korthikanti et al. 2022 Table 5 (validation, never fitted):"] + validation.map(Self.line)
        progress?(String(format: "profile factors: Megatron MAPE %.2f%%, Korthikanti MAPE %.2f%%", Self.mape(plain), Self.mape(validation)))
        if let python = deepSpeedPython {
            progress?("DeepSpeed memory: running DeepSpeed's estimators")
            let deepSpeed = try DeepSpeedMemoryComparison.run(python: python)
            records += deepSpeed.records
            lines += [""] + deepSpeed.lines
        }
        if speed {
            progress?("speed: estimate of a 405B model on 16,384 GPUs, and a meta study of 2,000 plans")
            let timing = try CostModelSpeed.run()
            records += timing.records
            lines += [""] + timing.lines
        }
        guard calibrate else { return (records, lines) }

        progress?("fitting the matmul factors to the Megatron rows")
        let fitted = try fit(profile, rows: megatron, traces: &traces)
        let fittedPredictions = try predict(megatron, on: fitted, traces: &traces)
        let fittedValidation = try predict(korthikanti, on: fitted, traces: &traces)
        let megatronHeldOut = try leaveOneOut(profile, rows: megatron, traces: &traces, progress: progress)
        let allHeldOut = try leaveOneOut(profile, rows: megatron + korthikanti, traces: &traces, progress: progress)
        records += [
            BenchRecord(suite: "costmodel", name: "megatron.calibrated.matmul_efficiency", value: fitted.efficiency.matmul, unit: "", better: .higher),
            BenchRecord(suite: "costmodel", name: "megatron.calibrated.matmul_half_intensity", value: fitted.efficiency.matmulHalfIntensity,
                        unit: "FLOP/B", better: .lower),
            BenchRecord(suite: "costmodel", name: "megatron.calibrated.throughput_mape", value: Self.mape(fittedPredictions), unit: "%", better: .lower),
            BenchRecord(suite: "costmodel", name: "korthikanti.calibrated.mfu_mape", value: Self.mape(fittedValidation), unit: "%", better: .lower),
            BenchRecord(suite: "costmodel", name: "megatron.leave_one_out.throughput_mape", value: Self.mape(megatronHeldOut), unit: "%", better: .lower),
            BenchRecord(suite: "costmodel", name: "all.leave_one_out.mape", value: Self.mape(allHeldOut), unit: "%", better: .lower),
        ]
        lines += ["", String(format: "fitted to the Megatron rows: matmul %.4f, half intensity %.1f FLOP/B", fitted.efficiency.matmul,
                             fitted.efficiency.matmulHalfIntensity)]
        lines += fittedPredictions.map(Self.line) + fittedValidation.map(Self.line)
        lines += ["", "leave-one-out over all throughput rows (each predicted from the factors fitted to the others):"]
        lines += allHeldOut.map(Self.line)
        return (records, lines)
    }
}
