import Engine
import Foundation
import Hardware
import Parallel

/// `autotune bench costmodel`: the training cost model against published measurements.
///
/// The rows of Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training on GPU
/// Clusters Using Megatron-LM", Table 1): GPT models of 1.7B to 1T parameters (sequence 2048,
/// vocabulary 51,200) trained with mixed precision and activation recomputation on Selene's DGX
/// A100-80GB nodes (8 GPUs, NVLink, 8 × 200 Gb/s InfiniBand), with the achieved teraFLOP/s per
/// GPU each row reports. Each row is estimated with the `A100-SXM-80GB` profile and one set of
/// efficiency factors for every row; the micro-batch (1, 2, 4 or 8 — the paper does not give
/// it) is the fastest that fits, as the paper's authors tuned theirs. The plans are those of the
/// paper's stack in 2021: 1F1B without interleaving, Megatron's scatter/gather of pipeline sends
/// (§4.1), no FlashAttention (it came a year later) and no overlap of the gradient all-reduce.
///
/// Records: `megatron.throughput_mape` (mean absolute percentage error, %) with the profile's own
/// factors, and — when `calibrate` is on — `megatron.calibrated.matmul_efficiency` (the single
/// matmul efficiency that minimises the error over all rows), the error it gives, and the
/// leave-one-out error (each row predicted with the factor fitted on the other rows), which says
/// how much of the fit is real. With `deepSpeedPython`, also `deepspeed.memory.max_error` and
/// `.mean_error`: model-state memory against DeepSpeed's estimators (`DeepSpeedMemoryComparison`).
public struct CostModelBenchmark: Sendable {
    /// One row of Table 1.
    public struct Row: Sendable {
        public var parameters: String
        public var heads: Int, hidden: Int, layers: Int
        public var tp: Int, pp: Int, gpus: Int, batch: Int
        /// Achieved teraFLOP/s per GPU, as published.
        public var tflopsPerGPU: Double
    }

    public static let megatronTable1: [Row] = [
        Row(parameters: "1.7B", heads: 24, hidden: 2304, layers: 24, tp: 1, pp: 1, gpus: 32, batch: 512, tflopsPerGPU: 137),
        Row(parameters: "3.6B", heads: 32, hidden: 3072, layers: 30, tp: 2, pp: 1, gpus: 64, batch: 512, tflopsPerGPU: 138),
        Row(parameters: "7.5B", heads: 32, hidden: 4096, layers: 36, tp: 4, pp: 1, gpus: 128, batch: 512, tflopsPerGPU: 142),
        Row(parameters: "18.4B", heads: 48, hidden: 6144, layers: 40, tp: 8, pp: 1, gpus: 256, batch: 1024, tflopsPerGPU: 135),
        Row(parameters: "39.1B", heads: 64, hidden: 8192, layers: 48, tp: 8, pp: 2, gpus: 512, batch: 1536, tflopsPerGPU: 138),
        Row(parameters: "76.1B", heads: 80, hidden: 10240, layers: 60, tp: 8, pp: 4, gpus: 1024, batch: 1792, tflopsPerGPU: 140),
        Row(parameters: "145.6B", heads: 96, hidden: 12288, layers: 80, tp: 8, pp: 8, gpus: 1536, batch: 2304, tflopsPerGPU: 148),
        Row(parameters: "310.1B", heads: 128, hidden: 16384, layers: 96, tp: 8, pp: 16, gpus: 1920, batch: 2160, tflopsPerGPU: 155),
        Row(parameters: "529.6B", heads: 128, hidden: 20480, layers: 105, tp: 8, pp: 35, gpus: 2520, batch: 2520, tflopsPerGPU: 163),
        Row(parameters: "1008.0B", heads: 160, hidden: 25600, layers: 128, tp: 8, pp: 64, gpus: 3072, batch: 3072, tflopsPerGPU: 163),
    ]

    public var profileName = "A100-SXM-80GB"
    public var calibrate = true
    public var microBatches = [1, 2, 4, 8]
    /// The Python of an environment with DeepSpeed: when given, the "DeepSpeed memory" table
    /// (`DeepSpeedMemoryComparison`) is added.
    public var deepSpeedPython: String?

    public init() {}

    /// A row's prediction: the best plan's executed TFLOP/s per GPU, and the micro-batch it used.
    public struct Prediction: Sendable {
        public var row: Row
        public var tflopsPerGPU: Double
        public var microBatch: Int
        public var errorPercent: Double { 100 * abs(tflopsPerGPU - row.tflopsPerGPU) / row.tflopsPerGPU }
    }

    /// Predict every row on `profile`.
    public func predict(on profile: HardwareProfile, traces: inout [String: TransformerTrace]) throws -> [Prediction] {
        try Self.megatronTable1.map { row in
            let model = GPTSpec(layers: row.layers, hidden: row.hidden, heads: row.heads, sequenceLength: 2048, vocabulary: 51200)
            let cluster = try Cluster(profile: profile, nodes: row.gpus / 8, devicesPerNode: 8)
            let dp = row.gpus / (row.tp * row.pp)
            var best: Prediction?
            for b in microBatches where row.batch % (dp * b) == 0 {
                let plan = ParallelPlan(dp: dp, tp: row.tp, pp: row.pp, zero: 0, microBatch: b, checkpointing: .full, precision: .fp16,
                                        flashAttention: false)
                let job = TrainingJob(model: model, globalBatch: row.batch, cluster: cluster, plan: plan)
                let m = try plan.validate(model, devices: cluster.devices, globalBatch: row.batch)
                let key = "\(row.parameters)/\(b)"
                let trace = try traces[key] ?? TransformerTrace(model: model, microBatch: b, precision: .fp16)
                traces[key] = trace
                let e = job.estimate(trace: trace, microBatches: m)
                guard e.infeasible == nil else { continue }
                if best == nil || e.tflopsPerDevice > best!.tflopsPerGPU {
                    best = Prediction(row: row, tflopsPerGPU: e.tflopsPerDevice, microBatch: b)
                }
            }
            guard let best else { throw PlanError("micro_batch", "no micro-batch of \(microBatches) fits row \(row.parameters)") }
            return best
        }
    }

    static func mape(_ p: [Prediction]) -> Double { p.map(\.errorPercent).reduce(0, +) / Double(max(p.count, 1)) }

    /// The matmul efficiency in [0.3, 1] minimising the error over `rows` (golden-section search).
    func fit(_ profile: HardwareProfile, rows: Set<String>, traces: inout [String: TransformerTrace]) throws -> Double {
        func error(_ e: Double) throws -> Double {
            var p = profile
            p.efficiency.matmul = e
            return Self.mape(try predict(on: p, traces: &traces).filter { rows.contains($0.row.parameters) })
        }
        var lo = 0.3, hi = 1.0
        let g = (5.0.squareRoot() - 1) / 2
        var a = hi - g * (hi - lo), b = lo + g * (hi - lo)
        var fa = try error(a), fb = try error(b)
        for _ in 0..<30 {
            if fa < fb { hi = b; b = a; fb = fa; a = hi - g * (hi - lo); fa = try error(a) }
            else { lo = a; a = b; fa = fb; b = lo + g * (hi - lo); fb = try error(b) }
        }
        return (lo + hi) / 2
    }

    /// Run the benchmark: records, and one line per row for the table.
    public func run(progress: ((String) -> Void)? = nil) throws -> (records: [BenchRecord], rows: [String]) {
        let profile = try ProfileLibrary.profile(named: profileName)
        var traces: [String: TransformerTrace] = [:]
        let plain = try predict(on: profile, traces: &traces)
        var records = [BenchRecord(suite: "costmodel", name: "megatron.throughput_mape", value: Self.mape(plain), unit: "%", better: .lower)]
        var lines = plain.map { p in
            String(format: "%-8@ tp %d pp %2d %4d GPUs  batch %4d  micro-batch %d  published %5.1f  predicted %6.1f TFLOP/s  error %5.1f%%",
                   p.row.parameters as NSString, p.row.tp, p.row.pp, p.row.gpus, p.row.batch, p.microBatch,
                   p.row.tflopsPerGPU, p.tflopsPerGPU, p.errorPercent)
        }
        progress?("profile factors: MAPE \(String(format: "%.1f", Self.mape(plain)))%")
        if let python = deepSpeedPython {
            progress?("DeepSpeed memory: running DeepSpeed's estimators")
            let deepSpeed = try DeepSpeedMemoryComparison.run(python: python)
            records += deepSpeed.records
            lines += [""] + deepSpeed.lines + [""]
        }
        guard calibrate else { return (records, lines) }

        let all = Set(Self.megatronTable1.map(\.parameters))
        let fitted = try fit(profile, rows: all, traces: &traces)
        var calibrated = profile
        calibrated.efficiency.matmul = fitted
        let fittedPredictions = try predict(on: calibrated, traces: &traces)
        var heldOut: [Prediction] = []
        for row in Self.megatronTable1 {
            progress?("leave-one-out: \(row.parameters)")
            var p = profile
            p.efficiency.matmul = try fit(profile, rows: all.subtracting([row.parameters]), traces: &traces)
            heldOut += try predict(on: p, traces: &traces).filter { $0.row.parameters == row.parameters }
        }
        records += [
            BenchRecord(suite: "costmodel", name: "megatron.calibrated.matmul_efficiency", value: fitted, unit: "", better: .higher),
            BenchRecord(suite: "costmodel", name: "megatron.calibrated.throughput_mape", value: Self.mape(fittedPredictions), unit: "%", better: .lower),
            BenchRecord(suite: "costmodel", name: "megatron.leave_one_out.throughput_mape", value: Self.mape(heldOut), unit: "%", better: .lower),
        ]
        lines.append(String(format: "calibrated matmul efficiency %.3f:", fitted))
        lines += fittedPredictions.map { p in
            String(format: "%-8@ predicted %6.1f TFLOP/s (published %5.1f)  error %5.1f%%", p.row.parameters as NSString,
                   p.tflopsPerGPU, p.row.tflopsPerGPU, p.errorPercent)
        }
        return (records, lines)
    }
}
