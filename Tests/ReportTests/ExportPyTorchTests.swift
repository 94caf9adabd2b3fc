import Compression
import Engine
import Foundation
import XCTest
@testable import Report

/// `--format pytorch`: the generated model code for each family, the batch split of `--devices`,
/// the schedule as the engine computes it, what the script cannot carry, and — when PyTorch is
/// installed — the generated script run for real.
final class ExportPyTorchTests: XCTestCase {
    /// `needles` occur in `text` in this order.
    private func assertInOrder(_ text: String, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        var rest = text[...]
        for needle in needles {
            guard let r = rest.range(of: needle) else {
                return XCTFail("'\(needle)' missing (or out of order) in:\n\(text)", file: file, line: line)
            }
            rest = rest[r.upperBound...]
        }
    }

    static let cnn = ArchitectureSpec.cnn(CNNSpec(stages: [
        CNNStage(channels: 8, pool: .max),
        CNNStage(channels: 16, blocks: 2, stride: 2, residual: true, batchnorm: true, pool: .avg),
        CNNStage(channels: 24, depthwise: true),
    ], head: [32], activation: .silu, dropout: 0.25))
    static let vit = ArchitectureSpec.vit(ViTSpec(patch: 7, dim: 32, depth: 2, heads: 4, mlpRatio: 2, dropout: 0.1))
    static let gpt = ArchitectureSpec.gpt(GPTSpec(layers: 2, hidden: 32, heads: 4, sequenceLength: 16, vocabulary: 24))
    static let mlp = ArchitectureSpec.mlp(MLPSpec(widths: [64, 32], activation: .gelu, dropout: 0.1, norm: .batch))

    func testMLPLayersInTheEnginesOrder() throws {
        let code = try PyTorchModelCode.source(Self.mlp, inputShape: [28, 28, 1], classes: 10)
        assertInOrder(code, ["nn.Flatten(),", "nn.Linear(784, 64),", "nn.BatchNorm1d(64),", "nn.GELU(),", "nn.Dropout(0.1),",
                             "nn.Linear(64, 32),", "nn.BatchNorm1d(32),", "nn.GELU(),", "nn.Dropout(0.1),", "nn.Linear(32, 10),",
                             "def forward(self, x):  # x: (batch, 1, 28, 28)"])
        let layerNorm = try PyTorchModelCode.source(.mlp(MLPSpec(widths: [16], norm: .layer)), inputShape: [4], classes: 3)
        assertInOrder(layerNorm, ["nn.Linear(4, 16),", "nn.LayerNorm(16),", "nn.ReLU(),", "nn.Linear(16, 3),"])
        XCTAssertFalse(layerNorm.contains("Dropout"), "no dropout layer at rate 0")
    }

    func testCNNFollowsStridesPoolingResidualAndDepthwiseBlocks() throws {
        let code = try PyTorchModelCode.source(Self.cnn, inputShape: [28, 28, 1], classes: 10)
        assertInOrder(code, [
            "class Residual(nn.Module):",
            "nn.Conv2d(1, 8, 3, stride=1, padding=1, bias=True),", "nn.SiLU(),", "nn.MaxPool2d(2),",     // 28 → 14
            "nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),", "nn.BatchNorm2d(16),", "nn.SiLU(),", // 14 → 7
            "Residual(", "nn.Conv2d(16, 16, 3, stride=1, padding=1, bias=False),", "nn.BatchNorm2d(16),", "nn.SiLU(),",
            "nn.Conv2d(16, 16, 3, stride=1, padding=1, bias=False),", "nn.BatchNorm2d(16),", "),", "nn.SiLU(),",
            "nn.AvgPool2d(2),",                                                                            // 7 → 3
            "nn.Conv2d(16, 16, 3, stride=1, padding=1, groups=16, bias=True),", "nn.Conv2d(16, 24, 1, bias=True),", "nn.SiLU(),",
            "nn.Flatten(),", "nn.Linear(216, 32),", "nn.SiLU(),", "nn.Dropout(0.25),", "nn.Linear(32, 10),",  // 3·3·24
        ])
        let global = try PyTorchModelCode.source(.cnn(CNNSpec(stages: [CNNStage(channels: 12)], globalPool: true)),
                                                 inputShape: [8, 8, 3], classes: 5)
        assertInOrder(global, ["nn.Conv2d(3, 12, 3,", "nn.AdaptiveAvgPool2d(1),", "nn.Flatten(),", "nn.Linear(12, 5),"])
        XCTAssertFalse(global.contains("class Residual"))
    }

    func testTransformersHavePatchEmbeddingAttentionBlocksAndTiedHead() throws {
        let vit = try PyTorchModelCode.source(Self.vit, inputShape: [28, 28, 1], classes: 10)
        assertInOrder(vit, ["class PatchEmbedding", "nn.Conv2d(channels, dim, patch, stride=patch)", "class SelfAttention",
                            "self.qkv = nn.Linear(dim, 3 * dim)", "is_causal=self.causal", "class Block",
                            "PatchEmbedding(channels=1, patch=7, dim=32, tokens=16)",
                            "Block(32, 4, mlp_ratio=2, causal=False, dropout=0.1) for _ in range(2)",
                            "nn.LayerNorm(32)", "nn.Linear(32, 10)", "tokens.mean(dim=1)"])
        let gpt = try PyTorchModelCode.source(Self.gpt, inputShape: [16], classes: 24)
        XCTAssertFalse(gpt.contains("PatchEmbedding"))
        assertInOrder(gpt, ["class SelfAttention", "class Block", "nn.Embedding(24, 32)", "torch.empty(16, 32)",
                            "Block(32, 4, mlp_ratio=4, causal=True, dropout=0.0) for _ in range(2)",
                            "nn.LayerNorm(32)", "nn.Linear(32, 24, bias=False)", "self.lm_head.weight = self.tokens.weight"])
    }

    private func recipe(batch: Int = 64, accumulation: Int = 2, precision: PrecisionConfig = .fp32,
                        compression: [CompressionStep] = [], schedule: LearningRateSchedule = .init()) -> Recipe {
        Recipe(candidate: Candidate(architecture: Self.mlp,
                                    training: TrainingConfig(optimizer: OptimizerConfig(.adamw, learningRate: 0.002), schedule: schedule,
                                                             batchSize: batch, epochs: 3, accumulation: accumulation),
                                    data: DataConfig(dataset: .blobs, samples: 500)),
               precision: precision, compression: compression)
    }

    func testDevicesSplitTheSameGlobalBatch() throws {
        let setup = try TrainingSetup(engine: recipe(), trainSamples: 1000, devices: 4)
        XCTAssertEqual([setup.dp, setup.gpusPerNode, setup.microBatch, setup.accumulation, setup.globalBatch], [4, 4, 16, 2, 128])
        XCTAssertEqual(setup.totalSteps, 3 * 8, "16 batches of 64 an epoch, 8 steps of 2 micro-batches")
        let config = DeepSpeedExport.config(setup).config
        XCTAssertEqual(config["train_batch_size"]?.number, 128, "micro 16 × accumulation 2 × 4 processes")
        XCTAssertEqual(config["train_micro_batch_size_per_gpu"]?.number, 16)
        XCTAssertEqual(config["gradient_accumulation_steps"]?.number, 2)
        let yaml = AccelerateExport.yaml(setup, deepSpeedConfigPath: "ds_config.json").text
        XCTAssertTrue(yaml.contains("distributed_type: MULTI_GPU\n") && yaml.contains("num_processes: 4\n"), yaml)

        let one = try TrainingSetup(engine: recipe(), trainSamples: 1000)
        XCTAssertEqual([one.dp, one.microBatch, one.globalBatch], [1, 64, 128])
        // A training set smaller than the batch makes the batch the whole set (40), as the engine does.
        XCTAssertEqual(try TrainingSetup(engine: recipe(), trainSamples: 40, devices: 4).microBatch, 10)

        XCTAssertThrowsError(try TrainingSetup(engine: recipe(), trainSamples: 1000, devices: 3)) { error in
            XCTAssertEqual((error as? ReportError)?.message,
                           "--devices 3 does not divide the trial's batch of 64 samples: each process must take the same share (use a divisor of 64)")
        }
        XCTAssertThrowsError(try TrainingSetup(engine: recipe(), trainSamples: 1000, devices: 0))
    }

    func testLostSettingsNameWhatTheScriptCannotCarry() throws {
        XCTAssertEqual(PyTorchExport.lostSettings(recipe()), [])
        XCTAssertEqual(PyTorchExport.lostSettings(recipe(precision: PrecisionConfig(.bf16))), [])
        let compressed = recipe(precision: PrecisionConfig(.tf32), compression: [
            .prune(try JSONDecoder().decode(PruneStep.self, from: Data(#"{"method": "prune", "sparsity": 0.5, "epochs": 1}"#.utf8))),
            .quantize(try JSONDecoder().decode(QuantizeStep.self, from: Data(#"{"method": "quantize", "mode": "ptq", "bits": 8}"#.utf8))),
        ])
        XCTAssertEqual(PyTorchExport.lostSettings(compressed), [
            "compression step 1: prune", "compression step 2: quantize",
            "tf32 precision (the engine rounds activations to TF32; torch's TF32 switch only changes CUDA matmuls)",
        ])
        XCTAssertEqual(PyTorchExport.lostSettings(recipe(precision: PrecisionConfig(.fp16))),
                       ["fp16 loss-scale hysteresis 2 (GradScaler backs off at the first overflow)"])
        XCTAssertEqual(PyTorchExport.lostSettings(recipe(precision: PrecisionConfig(.fp16, hysteresis: 1))), [])
        XCTAssertEqual(PyTorchExport.lostSettings(recipe(precision: PrecisionConfig(.fp16, lossScale: 128))),
                       ["fp16 fixed loss scale 128.0 (GradScaler's scale is dynamic)"])
    }

    /// The generated `learning_rate_factor`, run by Python, gives the engine's rate at every step.
    func testScheduleMatchesTheEnginePerStep() throws {
        guard let python = PythonRunner.find(module: nil) else { throw XCTSkip("no python3 on PATH: the schedule's Python is not run") }
        let schedules = [LearningRateSchedule(.cosine(minimum: 0.0002), warmupSteps: 5), LearningRateSchedule(.step(stepSize: 7, gamma: 0.5), warmupSteps: 3),
                         LearningRateSchedule(.constant, warmupSteps: 4), LearningRateSchedule(.cosine(minimum: 0))]
        for schedule in schedules {
            let r = recipe(batch: 50, accumulation: 1, schedule: schedule)
            let code = PyTorchTrainingCode(recipe: r, setup: try TrainingSetup(engine: r, trainSamples: 400), trainSamples: 400, labelsPerSample: 1)
            XCTAssertEqual(code.totalSteps, 24)
            let program = "import math\nTOTAL_STEPS = \(code.totalSteps)\n\n" + code.scheduleSource
                + "\n\nprint(' '.join(repr(learning_rate_factor(s) * 0.002) for s in range(30)))\n"
            let output = try python.run(program)
            let rates = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            XCTAssertEqual(rates.count, 30, output)
            for (step, rate) in rates.enumerated() {
                let engine = Double(schedule.rate(atStep: step, totalSteps: 24, base: 0.002))
                XCTAssertEqual(rate, engine, accuracy: 1e-7, "\(schedule.decay.name) step \(step)")
            }
        }
    }

    /// The folder for a step-decay trial: DeepSpeed has no such scheduler, so its ds_config has
    /// none (and no warning), and the script's schedule is the one DeepSpeed gets.
    func testStepDecayLeavesTheSchedulerToTheScript() throws {
        let space = """
        {"name": "step", "architecture": {"family": "mlp", "widths": [8]},
         "training": {"optimizer": {"name": "adamw", "lr": 0.01}, "schedule": {"name": "step", "step_size": 5, "gamma": 0.5, "warmup_steps": 2},
                      "batch_size": 20, "epochs": 2, "seed": 5},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 200, "classes": 3}}},
         "objectives": {"accuracy": "maximize"}}
        """
        let s = try ExportFixtures.spec(space)
        let picked = try PickedTrial(study: ExportFixtures.study(s), trial: ExportFixtures.trial(0, [], in: s), choice: "trial 0")
        let output = try Exporter.export(picked, as: .pytorch, to: "job/train.py")
        XCTAssertEqual(output.warnings, [])
        let config = try XCTUnwrap(output.files.first { $0.path == "job/ds_config.json" }).text
        XCTAssertFalse(config.contains("scheduler"), config)
        let script = output.files[0].text
        XCTAssertTrue(script.contains("    return 0.5 ** (step // 5)\n"), script)
        XCTAssertTrue(script.contains("schedule = None if \"scheduler\" in config else"), script)
        // The deepspeed format itself keeps the warmup and names the decay it cannot carry.
        let deepspeed = try Exporter.export(picked, as: .deepspeed, to: "ds_config.json")
        XCTAssertTrue(deepspeed.files[0].text.contains("WarmupLR"))
        XCTAssertEqual(deepspeed.lost.count, 1)
    }

    /// With PyTorch installed: every family's generated `Model` has the engine's parameter count,
    /// and a whole exported folder trains for an epoch and prints its test accuracy.
    func testGeneratedScriptsRunUnderPyTorch() throws {
        guard let python = PythonRunner.find(module: "torch") else {
            throw XCTSkip("PyTorch is not installed (neither python3 nor the check-export environment imports torch): the generated scripts are not run")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pytorch-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let models: [(ArchitectureSpec, [Int], Int)] = [(Self.mlp, [28, 28, 1], 10), (Self.cnn, [28, 28, 1], 10),
                                                        (Self.vit, [28, 28, 1], 10), (Self.gpt, [16], 24)]
        for (spec, shape, classes) in models {
            let engine = try Model(spec: spec, inputShape: shape, classes: classes, context: ExecutionContext(), seed: 0).parameterCount
            let module = PyTorchExport.header("test", processes: 1) + "\n\n" + (try PyTorchModelCode.source(spec, inputShape: shape, classes: classes))
            let path = folder.appendingPathComponent("model_\(spec.family).py")
            try module.write(to: path, atomically: true, encoding: .utf8)
            let input = spec.family == "gpt" ? "torch.randint(0, \(classes), (2, 16))" : "torch.randn(2, \(shape[2]), \(shape[0]), \(shape[1]))"
            let output = try python.run("""
            import importlib.util, torch
            spec = importlib.util.spec_from_file_location("m", "\(path.path)")
            m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
            model = m.Model()
            print(sum(p.numel() for p in model.parameters()), tuple(model({input}).shape))
            """.replacingOccurrences(of: "{input}", with: input))
            let expectedShape = spec.family == "gpt" ? "(2, 16, \(classes))" : "(2, \(classes))"
            XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "\(engine) \(expectedShape)", spec.family)
        }

        // A tiny MLP on blobs, exported for 2 processes and run as one, for one epoch.
        let space = """
        {"name": "run", "architecture": {"family": "mlp", "widths": [16]},
         "training": {"optimizer": {"name": "adamw", "lr": 0.01}, "schedule": {"name": "cosine", "warmup_steps": 2},
                      "batch_size": 32, "epochs": 1, "grad_clip": 1.0, "seed": 5},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 400, "classes": 3}}},
         "objectives": {"accuracy": "maximize"}}
        """
        let s = try ExportFixtures.spec(space)
        let picked = try PickedTrial(study: ExportFixtures.study(s), trial: ExportFixtures.trial(0, [], in: s, metrics: ["accuracy": 0.9]),
                                     choice: "trial 0", devices: 2)
        let output = try Exporter.export(picked, as: .pytorch, to: folder.appendingPathComponent("job/train.py").path)
        XCTAssertEqual(output.lost, [])
        for file in output.files {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: file.path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try file.contents.write(to: URL(fileURLWithPath: file.path))
        }
        let names = output.files.map { ($0.path as NSString).lastPathComponent }
        XCTAssertEqual(names, ["train.py", "README.txt", "ds_config.json", "accelerate.yaml", "train_x.npy", "train_y.npy",
                               "validation_x.npy", "validation_y.npy", "test_x.npy", "test_y.npy"])
        let log = try python.run(nil, arguments: ["train.py"], in: folder.appendingPathComponent("job"))
        let lines = log.split(separator: "\n").map(String.init)
        let engine = try Model(spec: .mlp(MLPSpec(widths: [16])), inputShape: [2], classes: 3, context: ExecutionContext(), seed: 0)
        XCTAssertEqual(lines.first, "parameters \(engine.parameterCount)", log)
        XCTAssertTrue(lines.contains { $0.hasPrefix("epoch 1 train_loss ") && $0.contains(" validation_accuracy ") }, log)
        let accuracy = try XCTUnwrap(lines.last.flatMap { $0.hasPrefix("test_accuracy ") ? Double($0.dropFirst(14)) : nil }, log)
        XCTAssertGreaterThan(accuracy, 0.5, "three well-separated blobs: \(log)")
    }
}
