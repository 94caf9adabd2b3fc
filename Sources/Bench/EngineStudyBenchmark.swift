import Foundation
import Search
import Store

/// `autotune bench search`, real-study part: regularized evolution and REINFORCE against random
/// search at an equal budget on an engine study — MLP or CNN on a Fashion-MNIST subset, accuracy
/// against forward FLOPs — scored by the hypervolume of each study's front after `trials` trials,
/// median over seeds.
///
/// Every strategy sees the same space and the same fixed reference point (accuracy 0.5, 1.5
/// MFLOPs per sample), and the hypervolume is divided by the reference box (0.5 × 1.5M), so 1 would
/// be a perfect classifier at zero FLOPs. Records: `engine_study.<strategy>.hypervolume`,
/// `engine_study.<strategy>.best_accuracy` and `engine_study.<strategy>.seconds` (medians).
public enum EngineStudyBenchmark {
    public static let strategies = ["evolution", "rl", "random"]
    static let reference = (accuracy: 0.5, flops: 1.5e6)

    static func space(strategy: String, seed: UInt64, trials: Int) -> String {
        let strategyJSON = strategy == "evolution" ? #"{"name": "evolution", "population": 8, "sample": 3}"# : "\"\(strategy)\""
        return """
        {
          "name": "engine-study",
          "architecture": {
            "family": {"_type": "choice", "_value": [
              {"_name": "mlp",
               "widths": {"_type": "choice", "_value": [[32], [64], [128], [256], [64, 32], [128, 64], [256, 128]]},
               "dropout": {"_type": "choice", "_value": [0, 0.1]}},
              {"_name": "cnn",
               "stages": [
                 {"channels": {"_type": "choice", "_value": [4, 8, 16]}, "kernel": 3, "pool": "max"},
                 {"channels": {"_type": "choice", "_value": [8, 16, 32]}, "kernel": 3, "pool": "max"}
               ],
               "head": {"_type": "choice", "_value": [[], [32]]}}
            ]},
            "activation": {"_type": "choice", "_value": ["relu", "gelu"]}
          },
          "training": {
            "optimizer": {"name": "adamw", "lr": {"_type": "loguniform", "_value": [0.0003, 0.01]}, "weight_decay": 0.01},
            "batch_size": {"_type": "choice", "_value": [32, 64, 128]},
            "epochs": 2,
            "seed": 1
          },
          "evaluator": {"engine": {"data": {"dataset": "fashion-mnist", "train_subset": 2000, "test_subset": 1000}, "epochs": 2}},
          "objectives": {"accuracy": "maximize", "flops": "minimize"},
          "strategy": \(strategyJSON),
          "budget": \(trials),
          "seed": \(seed)
        }
        """
    }

    /// - Parameters:
    ///   - dataDirectory: where Fashion-MNIST lives (nil: the Debian package's directory).
    ///   - progress: a line per finished study.
    public static func records(trials: Int, seeds: Int, threads: Int, dataDirectory: String?, directory: URL,
                               progress: ((String) -> Void)? = nil) throws -> [BenchRecord] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("engine-study-\(ProcessInfo.processInfo.processIdentifier).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let storage = try SQLiteStorage(path: path)
        var records: [BenchRecord] = []
        for strategy in strategies {
            var volumes: [Double] = [], best: [Double] = [], seconds: [Double] = []
            for seed in 0..<seeds {
                let text = space(strategy: strategy, seed: UInt64(seed), trials: trials)
                let spec = try SpaceFile.parse(Data(text.utf8), file: "engine-study")
                let name = "\(strategy)-\(seed)"
                let (study, _) = try Study.create(spec, named: name, in: storage, location: path)
                let runner = try StudyRunner(study: study, threads: threads, dataDirectory: dataDirectory)
                let start = DispatchTime.now().uptimeNanoseconds
                try runner.run()
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                let trials = try study.trials()
                let analysis = study.objectives
                let hv = analysis.hypervolume(trials, reference: [reference.accuracy, reference.flops])
                volumes.append(hv / ((1 - reference.accuracy) * reference.flops))
                best.append(analysis.ranked(trials).map { -$0.values[0] }.max() ?? 0)
                progress?("\(name): hypervolume \(String(format: "%.4f", volumes.last!)), best accuracy \(String(format: "%.3f", best.last!))")
            }
            records.append(BenchRecord(suite: "search", name: "engine_study.\(strategy).hypervolume", value: median(volumes), unit: "", better: .higher))
            records.append(BenchRecord(suite: "search", name: "engine_study.\(strategy).best_accuracy", value: median(best), unit: "", better: .higher))
            records.append(BenchRecord(suite: "search", name: "engine_study.\(strategy).seconds", value: median(seconds), unit: "s", better: .lower))
        }
        return records
    }
}
