import Foundation
import Search
import Store
@testable import Report

/// Fixed studies and trials the export tests share: an engine study and a meta (LLM
/// training-config) study, each with one trial whose parameters are given by option index.
enum ExportFixtures {
    static let engineSpace = """
    {"name": "tiny",
     "architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[16], [32]]}},
     "training": {"optimizer": {"name": "adamw", "lr": {"_type": "choice", "_value": [0.001, 0.003]}, "weight_decay": 0.01},
                  "schedule": {"name": "cosine", "warmup_steps": 10, "min_lr": 0.0001},
                  "batch_size": 32, "accumulation": 2, "grad_clip": 1.0, "epochs": 2, "seed": 3},
     "precision": {"dtype": "fp16", "loss_scale": 0},
     "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 500, "classes": 3}, "epochs": 2}},
     "objectives": {"accuracy": "maximize", "params": "minimize"}}
    """

    static let metaSpace = """
    {"name": "llm",
     "evaluator": {"meta": {"model": {"family": "gpt", "layers": 24, "hidden": 2048, "heads": 16, "sequence_length": 2048, "vocabulary": 51200},
                            "hardware": "A100-SXM-80GB", "nodes": 2, "gpus_per_node": 8, "global_batch": 512}},
     "parallelism": {"tp": {"_type": "choice", "_value": [1, 2]}, "zero": {"_type": "choice", "_value": [0, 2]},
                     "micro_batch": 4, "offload": {"_type": "choice", "_value": [false, true]}, "checkpointing": "full"},
     "precision": {"_type": "choice", "_value": ["bf16", "fp16"]},
     "objectives": {"tokens_per_second": "maximize", "memory_gib": "minimize"}}
    """

    static func spec(_ text: String) throws -> StudySpec { try SpaceFile.parse(Data(text.utf8), file: "fixture") }

    /// The fixture's study in a fresh store in a temporary folder (removed when the process ends).
    static func study(_ spec: StudySpec) throws -> Study {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("export-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("s.sqlite").path
        return try Study.create(spec, named: spec.name ?? "fixture", in: try SQLiteStorage(path: path), location: path).0
    }

    /// Trial `number` at `values` (one per dimension, option indices for choices), COMPLETE with
    /// `metrics`.
    static func trial(_ number: Int, _ values: [Double], in spec: StudySpec, metrics: [String: Double] = [:],
                      state: TrialState = .complete) -> TrialRecord {
        let date = Date(timeIntervalSince1970: 0)
        return TrialRecord(study: 1, number: number, state: state, parameters: spec.space.parameterRecords(Configuration(values)),
                           metrics: metrics, started: date, finished: date, heartbeat: date, worker: "w")
    }

    /// The engine fixture's trial 4: widths [32], lr 0.001.
    static func engineTrial() throws -> PickedTrial {
        let s = try spec(engineSpace)
        return try PickedTrial(study: study(s), trial: trial(4, [1, 0], in: s, metrics: ["accuracy": 0.9, "params": 1000]),
                               choice: "trial 4")
    }

    /// The meta fixture's trial 7: tp 2, ZeRO 2, optimizer offload, FP16.
    static func metaTrial() throws -> PickedTrial {
        let s = try spec(metaSpace)
        let names = s.space.dimensions.map(\.name)
        let chosen: [String: Double] = ["parallelism.tp": 1, "parallelism.zero": 1, "parallelism.offload": 1, "precision": 1]
        let values = names.map { chosen[$0] ?? 0 }
        return try PickedTrial(study: study(s), trial: trial(7, values, in: s, metrics: ["tokens_per_second": 5e5, "memory_gib": 30]),
                               choice: "trial 7")
    }
}
