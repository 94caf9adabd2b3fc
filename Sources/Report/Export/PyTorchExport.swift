import Compression
import Engine
import Foundation
import Search

/// An engine trial as a PyTorch training job in one folder: `train.py` (the model in `torch.nn`,
/// the optimizer, schedule, precision, clipping, accumulation and length of the trial), the
/// trial's data as `.npy` files, `ds_config.json` and `accelerate.yaml` for the same job on
/// `setup.dp` processes, `README.txt` with the launch lines, and — when the study kept the trial's
/// trained weights — `kept_weights.npz`, its final model as the script's `state_dict`.
///
///     let output = try PyTorchExport.export(picked, scriptPath: "out/train.py")
///     output.lost    // ["compression step 1: prune (...)"] — what the script cannot carry
enum PyTorchExport {
    /// The folder's files and the commands that run it.
    /// - Throws: `ReportError` for a trial the engine did not train (naming the formats that
    ///   study can use), or when its data cannot be read.
    static func export(_ picked: PickedTrial, scriptPath: String) throws -> ExportOutput {
        guard let recipe = picked.engineRecipe, let setup = picked.setup else {
            let formats = picked.setup == nil ? "recipe" : "deepspeed, accelerate or recipe"
            throw ReportError("study '\(picked.study.name)' is a \(picked.spec.evaluator.name) study: a PyTorch script needs a model the engine trained; use --format \(formats)")
        }
        let directory = (scriptPath as NSString).deletingLastPathComponent
        func beside(_ name: String) -> String { directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name) }

        let data = try PyTorchData.load(recipe)
        let train = data.splits.train
        let code = PyTorchTrainingCode(recipe: recipe, setup: setup, trainSamples: train.count, labelsPerSample: train.labelsPerSample)
        let model = try PyTorchModelCode.source(recipe.candidate.architecture, inputShape: train.sampleShape, classes: train.classCount)
        let title = Exporter.title(picked)
        let script = [header(title, processes: setup.dp), code.settingsSource, data.loaderSource, model,
                      code.optimizerSource, code.scheduleSource, PyTorchTrainingCode.loopSource]
            .joined(separator: "\n\n\n")

        // DeepSpeed has no step decay: that ds_config gets no scheduler, and train.py hands
        // DeepSpeed the engine's own schedule instead (warmup included).
        var dsSetup = setup
        if case .step = recipe.candidate.training.schedule.decay { dsSetup.schedule = nil }
        // What the two configs cannot carry is what the script cannot: `lostSettings` lists it once.
        let job = try Exporter.deepSpeedJob(dsSetup)
        let accelerate = AccelerateExport.yaml(setup, deepSpeedConfigPath: ExportFormat.deepspeed.fileName)
        let launch = launchLines(processes: setup.dp)
        var readme: [String] = [title, "",
            "train.py trains the trial's model with PyTorch on the data beside it and prints its test",
            "accuracy as the last line ('test_accuracy 0.8532'). Run it in this folder, one of three ways:", ""]
        readme += launch.map { "  " + $0 }
        readme += ["",
            "Without GPUs, DeepSpeed runs on its CPU accelerator: put DS_ACCELERATOR=cpu before 'deepspeed'.",
            "Under DeepSpeed the optimizer, its schedule, the number format and clipping come from ds_config.json;",
            "accelerate.yaml is the same job for 'accelerate launch --config_file accelerate.yaml train.py'.",
            "ds_config.json and accelerate.yaml split each batch of \(code.batch) samples over \(setup.dp) process(es).", "",
            "The data: the trial's own splits (same data set, subset, validation split and normalisation,",
            "from seed \(recipe.candidate.training.seed)), as NumPy arrays; images NCHW, standardised per channel:"]
        readme += data.listing + [""]
        let weights = keptWeights(picked, recipe)
        readme += weights.readme + [""]
        var files = [ExportFile(path: scriptPath, text: script + "\n"),
                     ExportFile(path: beside("README.txt"), text: readme.joined(separator: "\n")),
                     ExportFile(path: beside(ExportFormat.deepspeed.fileName), text: job.config.prettyText + "\n"),
                     ExportFile(path: beside(ExportFormat.accelerate.fileName), text: accelerate.text)]
        files += data.files(in: directory)
        if let archive = weights.archive { files.append(ExportFile(path: beside(keptWeightsFile), binary: Data(archive))) }
        let cd = directory.isEmpty ? "" : "cd \(shellQuoted(directory)) && "
        return ExportOutput(files: files, warnings: job.warnings + accelerate.warnings, commands: launch.map { cd + $0 },
                            notes: [weights.note], lost: lostSettings(recipe))
    }

    /// The file of the kept weights, beside train.py.
    static let keptWeightsFile = "kept_weights.npz"

    /// The kept weights' archive when there is one, the line the export prints about them, and
    /// README.txt's lines: what the archive is, or why there is none.
    static func keptWeights(_ picked: PickedTrial, _ recipe: Recipe) -> (archive: [UInt8]?, note: String, readme: [String]) {
        let trial = "trial \(picked.trial.number)"
        switch keptArchive(picked, recipe) {
        case .success(let archive):
            return (archive,
                    "\(keptWeightsFile) holds \(trial)'s kept weights: 'python train.py --evaluate-kept' tests them, '--init-kept' trains from them",
                    ["\(keptWeightsFile): the weights the study kept for \(trial), as Model's state_dict (PyTorch's layouts, batch-norm",
                     "running statistics included). 'python train.py --evaluate-kept' loads them, prints their test accuracy and",
                     "stops; '--init-kept' added to any launch line trains from them."])
        case .failure(let missing):
            let line = "\(trial)'s weights are not kept (\(missing.reason)): no \(keptWeightsFile), so --evaluate-kept and --init-kept have nothing to load"
            return (nil, line, [line])
        }
    }

    /// The kept final model of `picked` as the script's state_dict in one .npz, or why there is none: the
    /// study kept no weights for the trial (`PickedTrial.keptModel()`), or its final model is not
    /// the plain float model of the recipe's architecture that train.py builds (compression
    /// steps change it).
    static func keptArchive(_ picked: PickedTrial, _ recipe: Recipe) -> Result<[UInt8], WeightsNotKept> {
        guard recipe.compression.isEmpty else {
            let steps = recipe.compression.map(\.method).joined(separator: ", ")
            return .failure(WeightsNotKept("its final model is compressed (\(steps)), not the model train.py builds"))
        }
        do {
            let kept = try picked.keptModel().model
            guard kept.spec == recipe.candidate.architecture else {
                return .failure(WeightsNotKept("the kept model is a \(kept.spec.family), not the recipe's architecture"))
            }
            return .success(try PyTorchStateDict.npzArchive(PyTorchStateDict.entries(of: kept)))
        } catch let missing as WeightsNotKept {
            return .failure(missing)
        } catch let e as ReportError {
            return .failure(WeightsNotKept(e.message))
        } catch {
            return .failure(WeightsNotKept("\(error)"))
        }
    }

    /// The three launch lines, run in the script's folder.
    static func launchLines(processes n: Int) -> [String] {
        ["python train.py",
         "torchrun --standalone --nproc_per_node \(n) train.py",
         "deepspeed --num_gpus \(n) train.py --deepspeed_config ds_config.json"]
    }

    /// What of `recipe` the script does not reproduce, one phrase each: compression steps (the
    /// script trains; pruning, quantization, distillation and the rest are the engine's), TF32
    /// (the engine rounds activations to TF32 on any device; torch's switch only changes CUDA
    /// matmuls), and loss-scaling settings torch's `GradScaler` has no counterpart for.
    static func lostSettings(_ recipe: Recipe) -> [String] {
        var lost = recipe.compression.enumerated().map { i, step in "compression step \(i + 1): \(step.method)" }
        let p = recipe.precision
        switch p.format {
        case .tf32:
            lost.append("tf32 precision (the engine rounds activations to TF32; torch's TF32 switch only changes CUDA matmuls)")
        case .fp16:
            if let s = p.lossScale, s > 0 {
                lost.append("fp16 fixed loss scale \(pythonNumber(s)) (GradScaler's scale is dynamic)")
            } else {
                if p.hysteresis > 1 { lost.append("fp16 loss-scale hysteresis \(p.hysteresis) (GradScaler backs off at the first overflow)") }
                if p.minLossScale > 1 { lost.append("fp16 minimum loss scale \(pythonNumber(p.minLossScale)) (GradScaler has no floor)") }
            }
        case .bf16:
            if p.lossScale != nil { lost.append("bf16 loss scaling (autocast in bf16 does not scale the loss)") }
        case .fp32, .fp8:
            break
        }
        return lost
    }

    static func header(_ title: String, processes n: Int) -> String {
        let launch = launchLines(processes: n)
        return """
        \"\"\"\(title)

        Trains the trial's model as the autotune engine did: the same architecture, data (the .npy files
        beside this script), optimizer, learning-rate schedule, batch, accumulation, clipping, precision
        and length. Initial weights, the shuffling order and dropout masks are drawn by torch from SEED.
        The last line printed is the test accuracy: "test_accuracy 0.8532". With --evaluate-kept it loads
        the weights the study kept (\(keptWeightsFile), when README.txt lists it) and only tests them;
        --init-kept trains from them.

        Run it in this folder, one of three ways:
            \(launch[0])
            \(launch[1])
            \(launch[2])
        Without GPUs, DeepSpeed needs DS_ACCELERATOR=cpu. Under DeepSpeed the optimizer, its schedule,
        the number format and clipping come from ds_config.json.
        \"\"\"

        import argparse
        import contextlib
        import json
        import math
        import os
        import sys
        import time

        import numpy as np
        import torch
        import torch.distributed as dist
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.nn.parallel import DistributedDataParallel as DDP

        HERE = os.path.dirname(os.path.abspath(__file__))
        KEPT_WEIGHTS = "\(keptWeightsFile)"  # the trained weights the study kept, when it kept them
        """
    }
}
