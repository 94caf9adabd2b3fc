import Engine
import Parallel

/// A published measurement of training throughput: a GPT, the plan it ran with on A100-80GB
/// nodes of 8 GPUs, and what was measured — executed teraFLOP/s per GPU, or model-FLOPs
/// utilisation.
public struct PublishedThroughput: Sendable {
    public enum Metric: String, Sendable {
        /// Executed teraFLOP/s per GPU (recomputation counted), as Narayanan et al. report it.
        case tflopsPerGPU = "TFLOP/s"
        /// Model FLOPs per second over the GPUs' peak, as Korthikanti et al. report it.
        case mfu = "MFU %"
    }

    /// Which table the row is from: `megatron` or `korthikanti`.
    public var table: String
    public var name: String
    public var model: GPTSpec
    public var tp: Int, pp: Int, gpus: Int, batch: Int
    public var checkpointing: ParallelPlan.Checkpointing
    public var sequenceParallel: Bool
    public var metric: Metric
    /// The published value, in the metric's unit (MFU in %).
    public var published: Double

    /// The metric read from an estimate, in the published unit.
    public func value(of e: TrainingEstimate) -> Double {
        metric == .mfu ? 100 * e.mfu : e.tflopsPerDevice
    }

    /// The plan of micro-batch `b`: the paper's tp and pp, the data parallelism the GPUs leave,
    /// mixed precision, no FlashAttention (neither paper's stack had it), Megatron's
    /// scatter/gather, and no overlap of the gradient all-reduce.
    public func plan(microBatch b: Int) -> ParallelPlan {
        ParallelPlan(dp: gpus / (tp * pp), tp: tp, pp: pp, zero: 0, microBatch: b, checkpointing: checkpointing,
                     sequenceParallel: sequenceParallel, precision: .fp16, flashAttention: false)
    }
}

extension PublishedThroughput {
    private static func gpt(_ layers: Int, _ hidden: Int, _ heads: Int) -> GPTSpec {
        GPTSpec(layers: layers, hidden: hidden, heads: heads, sequenceLength: 2048, vocabulary: 51200)
    }

    private static func megatron(_ name: String, _ heads: Int, _ hidden: Int, _ layers: Int, tp: Int, pp: Int, gpus: Int, batch: Int,
                                 _ tflops: Double) -> PublishedThroughput {
        PublishedThroughput(table: "megatron", name: name, model: gpt(layers, hidden, heads), tp: tp, pp: pp, gpus: gpus, batch: batch,
                            checkpointing: .full, sequenceParallel: false, metric: .tflopsPerGPU, published: tflops)
    }

    /// The calibration set: Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training
    /// on GPU Clusters Using Megatron-LM"), Table 1 — GPT models of 1.7B to 1T parameters
    /// (sequence 2048, vocabulary 51,200) on Selene's DGX A100-80GB nodes, mixed precision, full
    /// activation recomputation, 1F1B without interleaving, and the achieved teraFLOP/s per GPU.
    public static let megatronTable1: [PublishedThroughput] = [
        megatron("1.7B", 24, 2304, 24, tp: 1, pp: 1, gpus: 32, batch: 512, 137),
        megatron("3.6B", 32, 3072, 30, tp: 2, pp: 1, gpus: 64, batch: 512, 138),
        megatron("7.5B", 32, 4096, 36, tp: 4, pp: 1, gpus: 128, batch: 512, 142),
        megatron("18.4B", 48, 6144, 40, tp: 8, pp: 1, gpus: 256, batch: 1024, 135),
        megatron("39.1B", 64, 8192, 48, tp: 8, pp: 2, gpus: 512, batch: 1536, 138),
        megatron("76.1B", 80, 10240, 60, tp: 8, pp: 4, gpus: 1024, batch: 1792, 140),
        megatron("145.6B", 96, 12288, 80, tp: 8, pp: 8, gpus: 1536, batch: 2304, 148),
        megatron("310.1B", 128, 16384, 96, tp: 8, pp: 16, gpus: 1920, batch: 2160, 155),
        megatron("529.6B", 128, 20480, 105, tp: 8, pp: 35, gpus: 2520, batch: 2520, 163),
        megatron("1008.0B", 160, 25600, 128, tp: 8, pp: 64, gpus: 3072, batch: 3072, 163),
    ]

    /// The validation set, never fitted on: Korthikanti et al. 2022 ("Reducing Activation
    /// Recomputation in Large Transformer Models"). The models and plans are their Table 3
    /// (22B: 64 heads, h 6144, 48 layers, tp 8, pp 1, 8 GPUs, global batch 4; 175B (GPT-3): 96,
    /// 12288, 96, tp 8, pp 8, 64 GPUs, batch 64; 530B (MT-NLG): 128, 20480, 105, tp 8, pp 35, 280
    /// GPUs, batch 280; 1T: 160, 25600, 128, tp 8, pp 64, 512 GPUs, batch 512; sequence 2048,
    /// vocabulary 51,200, data parallelism 1), on DGX A100-80GB nodes. The measurements are their
    /// Table 5 (§6.3): with sequence parallelism and selective recomputation, model-FLOPs
    /// utilisation 41.5%, 51.4%, 56.0% and 56.3% (iteration times 1.10, 13.75, 37.83 and
    /// 71.49 s); with full recomputation and no sequence parallelism, iteration times 1.42, 18.13,
    /// 49.05 and 94.42 s — written here as the MFU they give, 41.5% × 1.10 / 1.42 and so on
    /// (the model FLOPs of a step are the same under both).
    public static let korthikantiTable5: [PublishedThroughput] = {
        let models: [(String, GPTSpec, Int, Int, Int, (present: Double, presentSeconds: Double, fullSeconds: Double))] = [
            ("22B", gpt(48, 6144, 64), 1, 8, 4, (41.5, 1.10, 1.42)),
            ("175B", gpt(96, 12288, 96), 8, 64, 64, (51.4, 13.75, 18.13)),
            ("530B", gpt(105, 20480, 128), 35, 280, 280, (56.0, 37.83, 49.05)),
            ("1T", gpt(128, 25600, 160), 64, 512, 512, (56.3, 71.49, 94.42)),
        ]
        return models.flatMap { name, model, pp, gpus, batch, m in [
            PublishedThroughput(table: "korthikanti", name: name + " selective+sp", model: model, tp: 8, pp: pp, gpus: gpus, batch: batch,
                                checkpointing: .selective, sequenceParallel: true, metric: .mfu, published: m.present),
            PublishedThroughput(table: "korthikanti", name: name + " full", model: model, tp: 8, pp: pp, gpus: gpus, batch: batch,
                                checkpointing: .full, sequenceParallel: false, metric: .mfu,
                                published: m.present * m.presentSeconds / m.fullSeconds),
        ] }
    }()
}
