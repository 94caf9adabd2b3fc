import Compression
import Engine
import Foundation
import Report

/// `autotune bench compression`: every technique on the engine benchmark's mlp and cnn, full
/// Fashion-MNIST, against the FP32 baseline trained in the same run.
///
/// Records per model and technique: `<model>.<technique>.accuracy_drop` (percentage points,
/// baseline minus compressed), `.size_ratio` (stored bytes over the baseline's), `.flops_ratio`
/// (forward FLOPs over the baseline's) and, for the integer models, `.speedup` (the FP32 model's
/// test-set seconds over the integer model's), `.latency_b<N>_ms` (median latency of an inference
/// forward on a batch of N, for each of `latencyBatches`) and `.latency_speedup_b<N>` (the FP32
/// model's median latency over the integer model's, the two models taking turns). The FP32 model's
/// latencies are `<model>.fp32.latency_b<N>_ms`. Distillation trains the cnn as the teacher and a
/// 784-128-10 student with and without it for `distillSeeds` seeds and records both medians.
///
/// With `peers` set, after a model's int8_ptq measurement ONNX Runtime runs the FP32 model
/// exported to ONNX, as it is and after its own static quantization, on the same batches and
/// threads (`peers/onnxruntime_int8.py`, records of suite `peers`), and
/// `<model>.int8_ptq.latency_vs_ort_int8_b<N>` and `.test_seconds_vs_ort_int8` record ONNX Runtime's
/// int8 time over ours (above 1: ours is faster).
public struct CompressionBenchmark {
    public var epochs = 5
    public var threads = 2
    public var dataDirectory: String?
    public var models = ["mlp", "cnn"]
    public var techniques = CompressionBenchmark.allTechniques
    public var distillSeeds = 3
    /// Batch sizes the inference latency is measured at: one sample, and the training batch.
    public var latencyBatches = [1, 128]
    /// ONNX Runtime beside the int8 models; nil: not run.
    public var peers: CompressionPeers?

    /// The distillation temperature, chosen on a validation split (10% of the training set,
    /// medians over 3 seeds of the 784-128-10 student's accuracy: T = 2 88.58%, T = 4 88.33%,
    /// no distillation 87.82%). A student this small gains most at a low temperature, as Hinton
    /// et al. 2015 (§3) found.
    public static let distillTemperature: Float = 2

    public static let allTechniques = ["fp16", "bf16", "int8_ptq", "int4_qat", "prune90", "channels50", "lowrank90", "share4", "distill"]

    public init() {}

    /// The compression steps (and precision) of each technique.
    public static func recipe(_ technique: String, base: Candidate) -> Recipe? {
        switch technique {
        case "fp32": return Recipe(candidate: base)
        case "fp16": return Recipe(candidate: base, precision: PrecisionConfig(.fp16))
        case "bf16": return Recipe(candidate: base, precision: PrecisionConfig(.bf16))
        case "int8_ptq":
            return Recipe(candidate: base, compression: [.quantize(QuantizeStep(mode: .ptq, range: .percentile(99.99), calibrationSamples: 2048))])
        case "int4_qat":
            return Recipe(candidate: base, compression: [.quantize(QuantizeStep(
                mode: .qat, weights: QuantizationScheme(bits: 4, symmetric: true, perChannel: true, levels: .uniform), epochs: 2))])
        case "prune90": return Recipe(candidate: base, compression: [.prune(PruneStep(sparsity: 0.9, epochs: 3))])
        case "channels50": return Recipe(candidate: base, compression: [.pruneChannels(ChannelPruneStep(ratio: 0.5, scope: .conv, epochs: 2))])
        case "lowrank90": return Recipe(candidate: base, compression: [.lowRank(LowRankStep(choice: .energy(0.9), epochs: 1))])
        case "share4": return Recipe(candidate: base, compression: [.share(ShareStep(bits: 4, epochs: 1))])
        default: return nil
        }
    }

    /// Run the suite. `progress` receives a line per stage.
    public func run(progress: ((String) -> Void)? = nil) throws -> BenchReport {
        var results: [BenchRecord] = []
        func add(_ name: String, _ value: Double, _ unit: String, _ better: BenchRecord.Better) {
            results.append(BenchRecord(suite: "compression", name: name, value: value, unit: unit, better: better))
        }
        var engine = EngineBenchmark()
        engine.epochs = epochs
        engine.threads = threads
        engine.dataDirectory = dataDirectory
        var splitsCache: (DataConfig, DataConfig.Splits)?
        let load: (DataConfig, UInt64) throws -> DataConfig.Splits = { config, seed in
            if let c = splitsCache, c.0 == config { return c.1 }
            let s = try config.load(seed: seed)
            splitsCache = (config, s)
            return s
        }
        let teachers = TeacherCache()
        var lastModel: Model?
        func measure(_ recipe: Recipe, _ label: String, from baseline: (state: ModelState, report: TrainingReport)? = nil) throws -> CompressionReport {
            let runner = CompressionRunner(recipe: recipe)
            runner.loadData = load
            runner.teachers = teachers
            runner.log = { progress?("\(label): \($0)") }
            let report = try runner.run(from: baseline, progress: { e in progress?("\(label) epoch \(e.epoch): loss \(formatValue(e.trainLoss))") })
            lastModel = runner.model
            progress?("\(label): accuracy \(formatValue(report.testAccuracy)), \(formatValue(report.footprint.bytes / 1024)) KiB")
            return report
        }
        for model in models {
            guard let base = engine.candidate(model) else { continue }
            let baseline = try measure(Recipe(candidate: base), "\(model).fp32")
            let floatModel = lastModel!
            let trained = (state: ModelState(floatModel, seed: base.training.seed), report: baseline.training)
            var floatLatencyRecorded = false
            add("\(model).fp32.accuracy", baseline.testAccuracy, "fraction", .higher)
            add("\(model).fp32.stored_kib", baseline.footprint.bytes / 1024, "KiB", .lower)
            for technique in techniques where technique != "distill" {
                if technique == "channels50" && model != "cnn" { continue }
                guard let recipe = Self.recipe(technique, base: base) else { continue }
                // Post-training techniques compress a copy of the trained baseline; precisions train anew.
                let r = try measure(recipe, "\(model).\(technique)", from: recipe.precision == .fp32 ? trained : nil)
                let name = "\(model).\(technique)"
                add(name + ".accuracy_drop", 100 * (baseline.testAccuracy - r.testAccuracy), "pt", .lower)
                add(name + ".size_ratio", r.footprint.bytes / baseline.footprint.bytes, "ratio", .lower)
                add(name + ".flops_ratio", r.flopsPerSample / baseline.flopsPerSample, "ratio", .lower)
                if let f = r.floatInferenceSeconds, r.inference.hasPrefix("int") || r.inference.hasPrefix("dynamic") {
                    add(name + ".speedup", f / max(r.inferenceSeconds, 1e-9), "x", .higher)
                    if let integerModel = lastModel {
                        progress?("\(name): inference latency at batches \(latencyBatches.map(String.init).joined(separator: ", "))")
                        for batch in latencyBatches {
                            let ms = Model.medianLatencies([floatModel, integerModel], batch: batch)
                            let float = ms[0], integer = ms[1]
                            if !floatLatencyRecorded { add("\(model).fp32.latency_b\(batch)_ms", float, "ms", .lower) }
                            add(name + ".latency_b\(batch)_ms", integer, "ms", .lower)
                            add(name + ".latency_speedup_b\(batch)", float / max(integer, 1e-9), "x", .higher)
                        }
                        floatLatencyRecorded = true
                    }
                    if let peers, technique == "int8_ptq", case .quantize(let q)? = recipe.compression.first,
                       case .percentile(let percentile) = q.range {
                        let ort = try peers.run(floatModel, name: model, batches: latencyBatches, threads: threads,
                                                calibrationSamples: q.calibrationSamples, percentile: percentile,
                                                dataDirectory: dataDirectory, progress: progress)
                        results += ort
                        func ortValue(_ key: String) -> Double? { ort.first { $0.name == "\(model).\(key)" }?.value }
                        for batch in latencyBatches {
                            if let theirs = ortValue("ort_int8.latency_b\(batch)_ms"),
                               let ours = results.last(where: { $0.name == name + ".latency_b\(batch)_ms" })?.value {
                                add(name + ".latency_vs_ort_int8_b\(batch)", theirs / max(ours, 1e-9), "x", .higher)
                            }
                        }
                        if let theirs = ortValue("ort_int8.test_seconds") {
                            add(name + ".test_seconds_vs_ort_int8", theirs / max(r.inferenceSeconds, 1e-9), "x", .higher)
                        }
                    }
                }
                if r.lossScale != nil { add(name + ".skipped_steps", Double(r.skippedSteps), "steps", .lower) }
            }
        }
        if techniques.contains("distill"), let teacher = engine.candidate("cnn") {
            var with: [Double] = [], without: [Double] = []
            for seed in 0..<distillSeeds {
                var student = teacher
                student.architecture = .mlp(MLPSpec(widths: [128]))
                student.training.seed = UInt64(seed)
                let plain = try measure(Recipe(candidate: student), "student seed \(seed)")
                let taught = try measure(Recipe(candidate: student, compression: [.distill(DistillStep(
                    teachers: [TeacherSpec(architecture: teacher.architecture, training: teacher.training)],
                    temperature: Self.distillTemperature, alpha: 0.9))]),
                                         "distilled student seed \(seed)")
                without.append(plain.testAccuracy)
                with.append(taught.testAccuracy)
            }
            add("distill.student_accuracy", median(with), "fraction", .higher)
            add("distill.baseline_student_accuracy", median(without), "fraction", .higher)
            add("distill.gain", 100 * (median(with) - median(without)), "pt", .higher)
        }
        return BenchReport(results: results, host: HostInfo.current(threads: threads))
    }
}

/// How `bench compression --peers` runs ONNX Runtime: the script and the Python interpreter.
public struct CompressionPeers: Sendable {
    public static let script = "Sources/Bench/peers/onnxruntime_int8.py"
    public var script: String
    public var python: String
    public init(script: String = CompressionPeers.script, python: String = "python3") {
        self.script = script; self.python = python
    }

    /// Export `model` to ONNX in a temporary directory and run the script on it: ONNX Runtime's
    /// FP32 and statically quantized int8 sessions, calibrated like our int8_ptq (its first
    /// `calibrationSamples` training samples, ranges at `percentile`), weights reduced to 7 bits on
    /// CPUs without AVX-512 VNNI as ONNX Runtime advises. Throws `SearchPeersError` when the script fails.
    func run(_ model: Model, name: String, batches: [Int], threads: Int, calibrationSamples: Int, percentile: Double,
             dataDirectory: String?, progress: ((String) -> Void)?) throws -> [BenchRecord] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-ort-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("\(name).onnx")
        try Data(ONNXExporter.export(model)).write(to: path)
        var arguments = ["--model", path.path, "--name", name, "--threads", String(threads),
                         "--batches", batches.map(String.init).joined(separator: ","),
                         "--calibration-samples", String(calibrationSamples), "--percentile", String(percentile)]
        if let dataDirectory { arguments += ["--data-dir", dataDirectory] }
        if KernelSet.best != .avx512vnni { arguments.append("--reduce-range") }
        progress?("\(name): ONNX Runtime FP32 and int8")
        return try runPeerScript(python: python, script: script, arguments: arguments, progress: progress)
    }
}
