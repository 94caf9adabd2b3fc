import Engine
import Foundation
import Hardware
import Parallel
import Search
import Store

/// How fast the cost model answers, in process: the speed records of `autotune bench costmodel`.
///
/// - `speed.estimate_405b_seconds`: one `TrainingJob.estimate()` (trace included) of a 405B-like
///   GPT — 128 layers, hidden 16,384, 128 heads, sequence 8,192, vocabulary 128,256 (12·l·h² =
///   412B parameters) — on 16,384 H100s (2,048 nodes of 8) with every option of a plan on: tp 8,
///   pp 16 with 4 interleaved chunks, dp 128 with ZeRO-1, selective recomputation, sequence
///   parallelism, FlashAttention, bucketed gradient reduction overlapped with the backward pass,
///   parameter-gather overlap, BF16, global batch 2,048 (16M tokens). The best of 5 runs. Target
///   ≤ 0.1 s.
/// - `speed.meta_study_2000_seconds`: a 2,000-trial NSGA-II study of GPT-3 175B's plans on 1,024
///   A100s through the meta evaluator and the `StudyRunner`, every trial stored in SQLite — what
///   `autotune search` does with such a space. Target ≤ 10 s.
public enum CostModelSpeed {
    /// The 405B-like job.
    public static func largeJob() throws -> TrainingJob {
        let model = GPTSpec(layers: 128, hidden: 16384, heads: 128, sequenceLength: 8192, vocabulary: 128_256)
        let cluster = try Cluster(profile: try ProfileLibrary.profile(named: "H100-SXM-80GB"), nodes: 2048, devicesPerNode: 8)
        let plan = ParallelPlan(dp: 128, tp: 8, pp: 16, zero: 1, microBatch: 1, checkpointing: .selective, sequenceParallel: true,
                                precision: .bf16, virtualStages: 4, overlapGradientReduction: true, overlapParameterGather: true,
                                flashAttention: true)
        return TrainingJob(model: model, globalBatch: 2048, cluster: cluster, plan: plan)
    }

    /// The space of the meta study: GPT-3 175B on 128 nodes of 8 A100s.
    static func studySpace(trials: Int) -> String {
        """
        {"name": "speed-meta", "evaluator": {"meta": {
           "model": {"family": "gpt", "layers": 96, "hidden": 12288, "heads": 96, "sequence_length": 2048, "vocabulary": 51200},
           "hardware": "A100-SXM-80GB", "nodes": 128, "gpus_per_node": 8, "global_batch": 1536}},
         "parallelism": {
           "tp": {"_type": "choice", "_value": [1, 2, 4, 8]},
           "pp": {"_type": "choice", "_value": [1, 2, 4, 8, 16, 32]},
           "zero": {"_type": "choice", "_value": [0, 1]},
           "micro_batch": {"_type": "choice", "_value": [1, 2, 4]},
           "checkpointing": {"_type": "choice", "_value": ["none", "selective", "full"]},
           "sequence_parallel": {"_type": "choice", "_value": [false, true]},
           "flash_attention": {"_type": "choice", "_value": [false, true]},
           "overlap_grad_reduce": {"_type": "choice", "_value": [false, true]}},
         "precision": {"_type": "choice", "_value": ["bf16", "fp16"]},
         "objectives": {"tokens_per_second": "maximize", "memory_gib": "minimize"},
         "constraints": [{"metric": "memory_excess_gib", "<=": 0}],
         "strategy": {"name": "nsga2", "population": 40},
         "budget": \(trials), "seed": 1}
        """
    }

    /// Seconds of the best of `repeats` estimates of `largeJob()`.
    public static func estimateSeconds(repeats: Int = 5) throws -> (seconds: Double, estimate: TrainingEstimate) {
        let job = try largeJob()
        var best = Double.infinity
        var last: TrainingEstimate?
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            last = try job.estimate()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return (best, last!)
    }

    /// Seconds of a meta study of `trials` trials stored in a scratch SQLite file.
    public static func studySeconds(trials: Int = 2_000) throws -> Double {
        let directory = FileManager.default.temporaryDirectory
        let path = directory.appendingPathComponent("autotune-speed-meta-\(ProcessInfo.processInfo.processIdentifier).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let storage = try SQLiteStorage(path: path)
        let spec = try SpaceFile.parse(Data(studySpace(trials: trials).utf8), file: "speed-meta")
        let start = DispatchTime.now().uptimeNanoseconds
        let (study, _) = try Study.create(spec, named: "speed-meta", in: storage, location: path)
        let runner = try StudyRunner(study: study, threads: 1, dataDirectory: nil)
        try runner.run()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let done = try study.trials().count
        guard done == trials else { throw EvaluationError("the meta study ran \(done) of \(trials) trials") }
        return seconds
    }

    /// Both records, and a line for each.
    public static func run() throws -> (records: [BenchRecord], lines: [String]) {
        let (estimate, e) = try estimateSeconds()
        let study = try studySeconds()
        return ([
            BenchRecord(suite: "costmodel", name: "speed.estimate_405b_seconds", value: estimate, unit: "s", better: .lower),
            BenchRecord(suite: "costmodel", name: "speed.meta_study_2000_seconds", value: study, unit: "s", better: .lower),
        ], [
            String(format: "estimate of a 405B-like model on 16,384 H100s, every option on: %.4f s (target 0.1 s; MFU %.1f%%)", estimate, 100 * e.mfu),
            String(format: "meta study of 2,000 plans (GPT-3 175B on 1,024 A100s, NSGA-II, SQLite): %.2f s (target 10 s)", study),
        ])
    }
}
