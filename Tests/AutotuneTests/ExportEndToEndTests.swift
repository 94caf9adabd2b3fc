import Foundation
import XCTest

/// `autotune export` through the built executable, on the zdt1 example study (a benchmark: no
/// training, so the search takes well under a second).
final class ExportEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }

    /// The example space, from the package's `searchspaces/`.
    private let zdt1 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("searchspaces/zdt1.json").path

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// Runs the zdt1 study (30 trials) and returns its trials as `show --json` lists them.
    private func searchZDT1() throws -> [[String: Any]] {
        let search = runAutotune(["search", zdt1, "--budget", "30", "--db", db, "--quiet"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        return try XCTUnwrap(json(runAutotune(["show", "zdt1", "--db", db, "--json"]).stdout)["trials"] as? [[String: Any]])
    }

    private func export(_ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runAutotune(["export", "zdt1", "--db", db] + args, in: scratch)
    }

    func testRecipeOfTheKneeGoesUnderResultsAndHoldsTheTrialsParameters() throws {
        let trials = try searchZDT1()
        let r = export(["--format", "recipe"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try XCTUnwrap(r.stdout.split(separator: "\n").first.map(String.init))
        XCTAssertTrue(first.hasPrefix("picked trial "), r.stdout)
        XCTAssertTrue(first.contains(" of study 'zdt1' (knee): f1 "), r.stdout)
        XCTAssertTrue(r.stdout.contains("\nwrote \(scratch.path)/zdt1/recipe.json\n"), "the study folder beside the store: " + r.stdout)
        let number = try XCTUnwrap(Int(first.dropFirst("picked trial ".count).prefix { $0.isNumber }))

        let front = try json(runAutotune(["front", "zdt1", "--db", db, "--json"]).stdout)
        let members = try XCTUnwrap(front["front"] as? [[String: Any]]).compactMap { $0["trial"] as? Int }
        XCTAssertTrue(members.contains(number), "the knee \(number) is on the front \(members)")

        let text = try String(contentsOf: scratch.appendingPathComponent("zdt1/recipe.json"), encoding: .utf8)
        let recipe = try json(text)
        let stored = try XCTUnwrap(trials.first { $0["trial"] as? Int == number }?["parameters"] as? [String: Double])
        XCTAssertEqual(recipe as? [String: Double], stored)
        XCTAssertEqual(recipe.count, 30)

        // The same trial by number, printed on stdout with the summary on stderr.
        let byNumber = export(["--format", "recipe", "--trial", String(number), "--out", "-"])
        XCTAssertEqual(byNumber.status, 0, byNumber.stderr)
        XCTAssertEqual(byNumber.stdout, text)
        XCTAssertTrue(byNumber.stderr.hasPrefix("picked trial \(number) of study 'zdt1' (trial \(number)): "), byNumber.stderr)
    }

    func testBestRuleAndJSONOutput() throws {
        let trials = try searchZDT1()
        let f1 = trials.compactMap { t -> (Int, Double)? in
            guard let n = t["trial"] as? Int, let v = (t["metrics"] as? [String: Double])?["f1"] else { return nil }
            return (n, v)
        }
        let best = try XCTUnwrap(f1.min { ($0.1, $0.0) < ($1.1, $1.0) })
        let out = scratch.appendingPathComponent("exports/best.json").path
        let r = export(["--format", "recipe", "--pick", "best:f1", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["trial"] as? Int, best.0)
        XCTAssertEqual(doc["choice"] as? String, "best:f1")
        XCTAssertEqual(doc["format"] as? String, "recipe")
        XCTAssertEqual(doc["files"] as? [String], [out])
        XCTAssertEqual((doc["objectives"] as? [String: Double])?["f1"], best.1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))

        // A directory for --out gets the format's file name inside it.
        let dir = scratch.appendingPathComponent("exports").path
        let intoDirectory = export(["--format", "recipe", "--pick", "best:f1", "--out", dir, "--json"])
        XCTAssertEqual(try json(intoDirectory.stdout)["files"] as? [String], [dir + "/recipe.json"])
    }

    func testErrorsAreOneLineWithTheirExitCodes() throws {
        _ = try searchZDT1()
        let cases: [([String], Int32, String)] = [
            (["--format", "deepspeed"], 2, "autotune: error: study 'zdt1' is a benchmark study: it has no training job to export as deepspeed; use --format recipe\n"),
            (["--format", "recipe", "--trial", "99"], 2, "autotune: error: study 'zdt1' has no trial 99 (trials are numbered 0 to 29)\n"),
            (["--format", "recipe", "--pick", "best:f4"], 2, "autotune: error: pick rule 'best:f4': no trial of study 'zdt1' reports 'f4'. Did you mean 'f1'?\n"),
            (["--format", "recipe", "--pick", "kne"], 2, "autotune: error: pick rule 'kne': unknown rule 'kne' (use knee or best:METRIC). Did you mean 'knee'?\n"),
            (["--format", "yaml"], 2, "autotune: error: invalid value 'yaml' for '--format': use one of deepspeed, accelerate, recipe, onnx, pytorch\nSee 'autotune export --help'.\n"),
            (["--format", "pytorch"], 2, "autotune: error: study 'zdt1' is a benchmark study: a PyTorch script needs a model the engine trained; use --format recipe\n"),
            (["--format", "recipe", "--devices", "2"], 2, "autotune: error: --devices is for engine trials: study 'zdt1' is a benchmark study with no training job\n"),
            (["--format", "pytorch", "--out", "-"], 2,
             "autotune: error: invalid value '-' for '--out': a pytorch export is a folder of files: give a directory\nSee 'autotune export --help'.\n"),
            (["--format", "recipe", "--trial", "1", "--pick", "knee"], 2,
             "autotune: error: invalid value 'knee' for '--pick': give --trial or --pick, not both\nSee 'autotune export --help'.\n"),
        ]
        for (args, status, stderr) in cases {
            let r = export(args)
            XCTAssertEqual(r.status, status, args.joined(separator: " "))
            XCTAssertEqual(r.stderr, stderr, args.joined(separator: " "))
            XCTAssertEqual(r.stdout, "", args.joined(separator: " "))
        }
        let onnx = export(["--format", "onnx", "--trial", "3"])
        XCTAssertEqual(onnx.status, 2)
        XCTAssertEqual(onnx.stderr, "autotune: error: onnx export needs a model the engine trained: trial 3 of study 'zdt1' comes from a benchmark evaluator\n")
        let binary = export(["--format", "onnx", "--out", "-"])
        XCTAssertEqual(binary.status, 2)
        XCTAssertTrue(binary.stderr.contains("an ONNX model is binary: give a file path"), binary.stderr)
        let unknown = runAutotune(["export", "zdt", "--db", db, "--format", "recipe"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "autotune: error: no study 'zdt' in \(db) (studies: zdt1). Did you mean 'zdt1'?\n")

        // A path under a regular file cannot be written: an I/O failure, exit 1.
        let blocker = write("blocker", "")
        let unwritable = export(["--format", "recipe", "--out", blocker + "/recipe.json"])
        XCTAssertEqual(unwritable.status, 1, unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.hasPrefix("autotune: error: cannot write \(blocker)/recipe.json: "), unwritable.stderr)
        XCTAssertEqual(unwritable.stderr.filter { $0 == "\n" }.count, 1, unwritable.stderr)
    }

    /// A tiny engine study on synthetic blobs: four trials of two epochs, some in BF16.
    private func engineStudy() throws -> [[String: Any]] {
        let space = write("tiny.json", """
        {"name": "tiny",
         "architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[8], [16]]}},
         "training": {"optimizer": {"name": "adamw", "lr": {"_type": "choice", "_value": [0.01, 0.03]}},
                      "schedule": {"name": "cosine", "warmup_steps": 2}, "batch_size": 32, "epochs": 2, "seed": 1},
         "precision": {"_type": "choice", "_value": ["fp32", "bf16"]},
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 400, "classes": 3}}},
         "objectives": {"accuracy": "maximize", "params": "minimize"},
         "strategy": "random", "budget": 4, "seed": 2}
        """)
        let search = runAutotune(["search", space, "--db", db, "--quiet", "--threads", "1"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        return try XCTUnwrap(json(runAutotune(["show", "tiny", "--db", db, "--json"]).stdout)["trials"] as? [[String: Any]])
    }

    func testAnEngineRecipeRerunsExactlyUnderEval() throws {
        let trials = try engineStudy()
        for rule in ["knee", "best:accuracy"] {
            let out = scratch.appendingPathComponent("\(rule).json").path
            let r = runAutotune(["export", "tiny", "--db", db, "--format", "recipe", "--pick", rule, "--out", out, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let number = try XCTUnwrap(json(r.stdout)["trial"] as? Int)
            XCTAssertEqual(try json(r.stdout)["commands"] as? [String], ["autotune eval \(out)"])
            let stored = try XCTUnwrap(trials.first { $0["trial"] as? Int == number }?["metrics"] as? [String: Double])
            let eval = runAutotune(["eval", out, "--json", "--threads", "1"])
            XCTAssertEqual(eval.status, 0, eval.stderr)
            let report = try json(eval.stdout)
            XCTAssertEqual(report["test_loss"] as? Double, stored["loss"], rule)
            XCTAssertEqual(report["test_accuracy"] as? Double, stored["accuracy"], rule)
        }
        let ds = runAutotune(["export", "tiny", "--db", db, "--format", "deepspeed"], in: scratch)
        XCTAssertEqual(ds.status, 0, ds.stderr)
        XCTAssertTrue(ds.stdout.contains("\nwrote \(scratch.path)/tiny/ds_config.json\nwrote \(scratch.path)/tiny/launch.sh\n"), ds.stdout)
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent("tiny/launch.sh").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o755)
        // The study kept the weights of its front members, and of no other trial.
        let front = try XCTUnwrap(json(runAutotune(["front", "tiny", "--db", db, "--json"]).stdout)["front"] as? [[String: Any]])
        let weights = scratch.appendingPathComponent("tiny/weights").path
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: weights).sorted(),
                       front.compactMap { $0["trial"] as? Int }.sorted().map { "trial-\($0).weights" })
        // The knee's model as ONNX, from its kept weights: nothing is trained.
        let onnx = runAutotune(["export", "tiny", "--db", db, "--format", "onnx", "--json"], in: scratch)
        XCTAssertEqual(onnx.status, 0, onnx.stderr)
        XCTAssertEqual(onnx.stderr, "")
        let onnxReport = try json(onnx.stdout)
        let knee = try XCTUnwrap(onnxReport["trial"] as? Int)
        XCTAssertEqual(onnxReport["notes"] as? [String], ["trial \(knee) of study 'tiny' exported from its kept weights (no training)"])
        let model = try Data(contentsOf: scratch.appendingPathComponent("tiny/model.onnx"))
        XCTAssertEqual(model.first, 0x08, "ModelProto field 1 (ir_version), a varint")
        XCTAssertGreaterThan(model.count, 500)
        // Without its file, the trial is trained again, which a line on stderr says; the rerun
        // scores what the study stored and gives the same ONNX model.
        try FileManager.default.removeItem(atPath: weights + "/trial-\(knee).weights")
        let again = runAutotune(["export", "tiny", "--db", db, "--format", "onnx", "--json"], in: scratch)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stderr, "autotune: note: trial \(knee)'s weights are not kept (no file \(weights)/trial-\(knee).weights): "
                                     + "training it again from its recipe\n")
        let accuracy = try XCTUnwrap((trials.first { $0["trial"] as? Int == knee }?["metrics"] as? [String: Double])?["accuracy"])
        XCTAssertEqual(try json(again.stdout)["notes"] as? [String],
                       ["retrained trial \(knee) of study 'tiny' from its recipe: test accuracy \(String(format: "%.4f", accuracy)) (the study stored \(String(format: "%.4f", accuracy)))"])
        XCTAssertEqual(try Data(contentsOf: scratch.appendingPathComponent("tiny/model.onnx")), model)
        let accelerate = runAutotune(["export", "tiny", "--db", db, "--format", "accelerate", "--out", "-"], in: scratch)
        XCTAssertEqual(accelerate.status, 0, accelerate.stderr)
        XCTAssertTrue(accelerate.stdout.hasPrefix("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\n"), accelerate.stdout)
    }

    func testAMetaRecipeRerunsUnderEstimateWithTheCommandItPrints() throws {
        let space = URL(fileURLWithPath: zdt1).deletingLastPathComponent().appendingPathComponent("gpt3-cluster.json").path
        let search = runAutotune(["search", space, "--budget", "20", "--db", db, "--quiet"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        let out = scratch.appendingPathComponent("recipe.json").path
        let r = runAutotune(["export", "gpt3-cluster", "--db", db, "--format", "recipe", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try json(r.stdout)
        let command = try XCTUnwrap((doc["commands"] as? [String])?.first)
        let words = command.split(separator: " ").map(String.init)
        XCTAssertEqual(Array(words.prefix(3)), ["autotune", "estimate", out])
        let estimate = runAutotune(Array(words.dropFirst()) + ["--json"])
        XCTAssertEqual(estimate.status, 0, estimate.stderr)
        let tokens = try XCTUnwrap((try json(estimate.stdout)["estimate"] as? [String: Any])?["tokens_per_second"] as? Double)
        let stored = try XCTUnwrap((doc["objectives"] as? [String: Double])?["tokens_per_second"])
        XCTAssertEqual(tokens, stored, accuracy: 1e-9 * stored)

        let ds = runAutotune(["export", "gpt3-cluster", "--db", db, "--format", "deepspeed", "--trial", String(try XCTUnwrap(doc["trial"] as? Int)),
                              "--out", "-"])
        XCTAssertEqual(ds.status, 0, ds.stderr)
        let config = try json(ds.stdout)
        XCTAssertEqual(config["train_batch_size"] as? Int, 1536)
    }

    func testNoStoreAndMissingFormat() {
        let none = runAutotune(["export", "zdt1", "--db", db, "--format", "recipe"])
        XCTAssertEqual(none.status, 2)
        XCTAssertEqual(none.stderr, "autotune: error: \(db): no such store (run 'autotune search SPACE.json' first)\n")
        let missing = runAutotune(["export", "zdt1", "--db", db])
        XCTAssertEqual(missing.status, 2, "without --format the formats are listed, of a study that must exist")
        XCTAssertEqual(missing.stderr, none.stderr)
    }

    /// A meta study of one plan DeepSpeed cannot run as costed: the interleaved pipeline schedule.
    private func searchUnrunnablePlan() throws {
        let space = write("piped.json", """
        {"name": "piped",
         "evaluator": {"meta": {"model": {"family": "gpt", "layers": 8, "hidden": 1024, "heads": 16, "sequence_length": 1024, "vocabulary": 32000},
                                "hardware": "A100-SXM-80GB", "nodes": 1, "gpus_per_node": 8, "global_batch": 64}},
         "parallelism": {"pp": {"_type": "choice", "_value": [2]}, "virtual_stages": {"_type": "choice", "_value": [2]},
                         "checkpointing": {"_type": "choice", "_value": ["selective"]}},
         "objectives": {"tokens_per_second": "maximize", "memory_gib": "minimize"},
         "budget": 2, "seed": 1}
        """)
        let search = runAutotune(["search", space, "--db", db, "--quiet"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
    }

    func testAnExportThatWouldLoseASettingFailsUnlessAllowedAndThenNamesIt() throws {
        try searchUnrunnablePlan()
        let refused = runAutotune(["export", "piped", "--db", db, "--format", "deepspeed", "--trial", "0"], in: scratch)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.hasPrefix("autotune: error: the deepspeed export of trial 0 of study 'piped' would lose: the interleaved 1F1B schedule (2 model chunks per device)"), refused.stderr)
        XCTAssertTrue(refused.stderr.hasSuffix("(write it anyway with --allow-loss)\n"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("piped/ds_config.json").path), "nothing written")

        let allowed = runAutotune(["export", "piped", "--db", db, "--format", "deepspeed", "--trial", "0", "--allow-loss"], in: scratch)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("autotune: warning: dropped: the interleaved 1F1B schedule (2 model chunks per device)"), allowed.stderr)
        XCTAssertTrue(allowed.stdout.contains("--recompute-granularity selective"), "selective recomputation reaches the launch line: " + allowed.stdout)
        let config = try json(String(contentsOf: scratch.appendingPathComponent("piped/ds_config.json"), encoding: .utf8))
        XCTAssertEqual(config["train_batch_size"] as? Int, 64)

        // Accelerate runs a pipeline under Megatron, which it gives no virtual-stage setting.
        let refusedToo = runAutotune(["export", "piped", "--db", db, "--format", "accelerate", "--trial", "0", "--out", "-"], in: scratch)
        XCTAssertEqual(refusedToo.status, 2)
        XCTAssertTrue(refusedToo.stderr.contains("would lose: the interleaved 1F1B schedule"), refusedToo.stderr)
        let accelerate = runAutotune(["export", "piped", "--db", db, "--format", "accelerate", "--trial", "0", "--out", "-", "--allow-loss"], in: scratch)
        XCTAssertEqual(accelerate.status, 0, accelerate.stderr)
        XCTAssertTrue(accelerate.stdout.contains("distributed_type: MEGATRON_LM\n"), accelerate.stdout)
        XCTAssertTrue(accelerate.stdout.contains("  megatron_lm_pp_degree: 2\n"), accelerate.stdout)
    }

    func testWithoutAFormatTheFormatsAreListedAndAnOffFrontTrialIsSaidToBe() throws {
        let trials = try searchZDT1()
        let list = export([])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout, """
        formats for study 'zdt1' (benchmark evaluator); export with --format FORMAT:
          deepspeed   ds_config.json and launch.sh (Megatron-DeepSpeed flags for an LLM plan) (not for a benchmark study)
          accelerate  accelerate.yaml (and its ds_config under DeepSpeed) (not for a benchmark study)
          recipe      recipe.json, which 'autotune eval' or 'autotune estimate' reruns
          onnx        model.onnx, the engine trial's model (not for a benchmark study)
          pytorch     pytorch/: train.py with the trial's data, ds_config.json and accelerate.yaml (not for a benchmark study)

        """)
        let front = try json(runAutotune(["front", "zdt1", "--db", db, "--json"]).stdout)
        let members = Set(try XCTUnwrap(front["front"] as? [[String: Any]]).compactMap { $0["trial"] as? Int })
        let off = try XCTUnwrap(trials.compactMap { $0["trial"] as? Int }.first { !members.contains($0) })
        let r = export(["--format", "recipe", "--trial", String(off), "--out", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("autotune: warning: trial \(off) is not on the Pareto front of study 'zdt1': trial "), r.stderr)
        let member = try XCTUnwrap(members.first)
        XCTAssertFalse(export(["--format", "recipe", "--trial", String(member), "--out", "-"]).stderr.contains("not on the Pareto front"))
    }

    /// The tiny engine study exported as a PyTorch folder for 2 processes: the script, the data,
    /// the configs with the batch split, the launch lines; a batch 3 processes cannot share is refused.
    func testPyTorchFolderForTwoProcesses() throws {
        _ = try engineStudy()
        let folder = scratch.appendingPathComponent("tiny/pytorch")
        let r = runAutotune(["export", "tiny", "--db", db, "--format", "pytorch", "--devices", "2"], in: scratch)
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["train.py", "README.txt", "ds_config.json", "accelerate.yaml", "train_x.npy", "train_y.npy",
                     "validation_x.npy", "validation_y.npy", "test_x.npy", "test_y.npy"] {
            XCTAssertTrue(r.stdout.contains("\nwrote \(folder.path)/\(name)\n"), name + ": " + r.stdout)
        }
        XCTAssertTrue(r.stdout.hasSuffix("""
            run:   cd \(folder.path) && python train.py
            or:    cd \(folder.path) && torchrun --standalone --nproc_per_node 2 train.py
            or:    cd \(folder.path) && deepspeed --num_gpus 2 train.py --deepspeed_config ds_config.json

            """), r.stdout)
        let config = try json(String(contentsOf: folder.appendingPathComponent("ds_config.json"), encoding: .utf8))
        XCTAssertEqual(config["train_batch_size"] as? Int, 32)
        XCTAssertEqual(config["train_micro_batch_size_per_gpu"] as? Int, 16)
        let yaml = try String(contentsOf: folder.appendingPathComponent("accelerate.yaml"), encoding: .utf8)
        XCTAssertTrue(yaml.contains("num_processes: 2\n"), yaml)
        let script = try String(contentsOf: folder.appendingPathComponent("train.py"), encoding: .utf8)
        XCTAssertTrue(script.contains("\nBATCH = 32  # samples per micro-step, over all processes\n"), script)
        XCTAssertTrue(script.contains("\nPROCESSES = 2  #"), script)
        XCTAssertTrue(script.contains("torch.optim.AdamW(groups, lr=LEARNING_RATE"), script)
        // 400 blobs: 80 held out for testing, a tenth of the rest for validation; two features each.
        let header = try Data(contentsOf: folder.appendingPathComponent("train_x.npy")).prefix(80)
        XCTAssertTrue(String(decoding: header, as: UTF8.self).contains("'descr': '<f4', 'fortran_order': False, 'shape': (288, 2), }"))

        let three = runAutotune(["export", "tiny", "--db", db, "--format", "deepspeed", "--devices", "3"], in: scratch)
        XCTAssertEqual(three.status, 2)
        XCTAssertEqual(three.stderr, "autotune: error: --devices 3 does not divide the trial's batch of 32 samples: "
                       + "each process must take the same share (use a divisor of 32)\n")
        let split = runAutotune(["export", "tiny", "--db", db, "--format", "deepspeed", "--devices", "4", "--out", "-"], in: scratch)
        XCTAssertEqual(split.status, 0, split.stderr)
        let four = try json(split.stdout)
        XCTAssertEqual([four["train_batch_size"] as? Int, four["train_micro_batch_size_per_gpu"] as? Int], [32, 8])
    }

    /// A trial with compression steps: refused with the list of what the script would lose, and
    /// written with --allow-loss, each dropped setting named on stderr.
    func testPyTorchExportRefusesToLoseSettingsUnlessAllowed() throws {
        let space = write("pruned.json", """
        {"name": "pruned",
         "architecture": {"family": "mlp", "widths": [8]},
         "training": {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 40, "epochs": 1, "seed": 1},
         "precision": "tf32",
         "compression": [{"method": "prune", "sparsity": 0.5, "epochs": 1}],
         "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 200, "classes": 3}}},
         "objectives": {"accuracy": "maximize", "params": "minimize"},
         "strategy": "random", "budget": 1, "seed": 2}
        """)
        let search = runAutotune(["search", space, "--db", db, "--quiet", "--threads", "1"], in: scratch)
        XCTAssertEqual(search.status, 0, search.stderr)
        let out = scratch.appendingPathComponent("job").path
        let refused = runAutotune(["export", "pruned", "--db", db, "--format", "pytorch", "--out", out], in: scratch)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "autotune: error: the pytorch export of trial 0 of study 'pruned' would lose: compression step 1: prune; tf32 precision (the engine rounds "
                       + "activations to TF32; torch's TF32 switch only changes CUDA matmuls) (write it anyway with --allow-loss)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
        let allowed = runAutotune(["export", "pruned", "--db", db, "--format", "pytorch", "--out", out, "--allow-loss"], in: scratch)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("autotune: warning: dropped: compression step 1: prune\n"), allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("autotune: warning: dropped: tf32 precision"), allowed.stderr)
        let notKept = "trial 0's weights are not kept (its final model is compressed (prune), not the model train.py builds): "
            + "no kept_weights.npz, so --evaluate-kept and --init-kept have nothing to load\n"
        XCTAssertTrue(allowed.stdout.contains("\n" + notKept), allowed.stdout)
        XCTAssertTrue(try String(contentsOfFile: out + "/README.txt", encoding: .utf8).contains("\n" + notKept))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/kept_weights.npz"))
        let script = try String(contentsOfFile: out + "/train.py", encoding: .utf8)
        XCTAssertTrue(script.contains("torch.optim.SGD(groups, lr=LEARNING_RATE, momentum=0.9, nesterov=False)"), script)
    }
}

/// Exports of a command study: the space's `export` section maps parameters onto DeepSpeed and
/// Accelerate settings; without it, the parameters, an argument file and the launch line.
final class CommandExportEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("autotune.sqlite").path }
    private let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The worked example of searchspaces/, with its script, searched for `budget` trials.
    private func searchExample(budget: Int = 6, editing edit: (String) -> String = { $0 }) -> (status: Int32, stdout: String, stderr: String) {
        let text = (try? String(contentsOf: package.appendingPathComponent("searchspaces/deepspeed-command.json"), encoding: .utf8)) ?? ""
        let script = package.appendingPathComponent("searchspaces/scripts/toy_finetune.py").path
        let space = write("space.json", edit(text).replacingOccurrences(of: "searchspaces/scripts/toy_finetune.py", with: script))
        return runAutotune(["search", space, "--budget", String(budget), "--db", db, "--quiet"], in: scratch)
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testTheExportSectionMapsParametersOntoDeepSpeedAndAccelerateKeys() throws {
        let search = searchExample()
        XCTAssertEqual(search.status, 0, search.stderr)
        let shown = try json(runAutotune(["show", "deepspeed-command", "--db", db, "--json"]).stdout)
        let trial = try XCTUnwrap((shown["trials"] as? [[String: Any]])?.first { $0["trial"] as? Int == 2 })
        let parameters = try XCTUnwrap(trial["parameters"] as? [String: Any])

        let ds = runAutotune(["export", "deepspeed-command", "--db", db, "--format", "deepspeed", "--trial", "2"], in: scratch)
        XCTAssertEqual(ds.status, 0, ds.stderr)
        let config = try json(String(contentsOf: scratch.appendingPathComponent("deepspeed-command/ds_config.json"), encoding: .utf8))
        let optimizer = try XCTUnwrap(config["optimizer"] as? [String: Any])
        XCTAssertEqual(optimizer["type"] as? String, "AdamW")
        let params = try XCTUnwrap(optimizer["params"] as? [String: Any])
        XCTAssertEqual(params["lr"] as? Double, parameters["training.lr"] as? Double)
        XCTAssertEqual(params["weight_decay"] as? Double, 0.1, "the base's fixed settings stay beside the mapped ones")
        XCTAssertEqual((config["zero_optimization"] as? [String: Any])?["stage"] as? Int, parameters["training.zero"] as? Int)
        XCTAssertEqual(config["train_micro_batch_size_per_gpu"] as? Int, parameters["training.micro_batch"] as? Int)
        let run = try XCTUnwrap(ds.stdout.split(separator: "\n").first { $0.hasPrefix("run:   ") })
        XCTAssertTrue(run.hasPrefix("run:   deepspeed \(package.path)/searchspaces/scripts/toy_finetune.py --lr "), String(run))
        XCTAssertTrue(run.hasSuffix("--deepspeed --deepspeed_config \(scratch.path)/deepspeed-command/ds_config.json"), String(run))

        let accelerate = runAutotune(["export", "deepspeed-command", "--db", db, "--format", "accelerate", "--trial", "2", "--out", "-"], in: scratch)
        XCTAssertEqual(accelerate.status, 0, accelerate.stderr)
        XCTAssertTrue(accelerate.stdout.hasPrefix("compute_environment: LOCAL_MACHINE\ndistributed_type: DEEPSPEED\n"), accelerate.stdout)
        XCTAssertTrue(accelerate.stdout.contains("  zero_stage: \(try XCTUnwrap(parameters["training.zero"] as? Int))\n"), accelerate.stdout)
        XCTAssertTrue(accelerate.stdout.contains("mixed_precision: \(try XCTUnwrap(parameters["training.precision"] as? String))\n"), accelerate.stdout)

        // The recipe: the parameters, an argument file for argparse, and the line that reruns it.
        let recipe = runAutotune(["export", "deepspeed-command", "--db", db, "--format", "recipe", "--trial", "2"], in: scratch)
        XCTAssertEqual(recipe.status, 0, recipe.stderr)
        let args = try String(contentsOf: scratch.appendingPathComponent("deepspeed-command/recipe.args"), encoding: .utf8)
        XCTAssertTrue(args.hasPrefix("--lr\n"), args)
        let line = try XCTUnwrap(recipe.stdout.split(separator: "\n").first { $0.hasPrefix("run:   ") }).dropFirst("run:   ".count)
        let rerun = Process()
        rerun.executableURL = URL(fileURLWithPath: "/bin/sh")
        rerun.arguments = ["-c", String(line)]
        let out = Pipe()
        rerun.standardOutput = out
        try rerun.run()
        rerun.waitUntilExit()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let metrics = try json(String(try XCTUnwrap(printed.split(separator: "\n").last)))
        XCTAssertEqual(metrics["loss"] as? Double, (trial["metrics"] as? [String: Double])?["loss"], "the launch line reruns the trial")
    }

    func testWithoutAMappingDeepSpeedIsRefusedWithTheWayOut() throws {
        let search = searchExample(budget: 2) { text in
            let start = text.range(of: "  \"export\": {")!.lowerBound, end = text.range(of: "  \"budget\"")!.lowerBound
            return text.replacingCharacters(in: start..<end, with: "")
        }
        XCTAssertEqual(search.status, 0, search.stderr)
        let r = runAutotune(["export", "deepspeed-command", "--db", db, "--format", "deepspeed"], in: scratch)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: study 'deepspeed-command' runs a command, and its space has no export.deepspeed section"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("--format recipe writes the parameters, an argument file and the launch line\n"), r.stderr)
        let list = runAutotune(["export", "deepspeed-command", "--db", db], in: scratch)
        XCTAssertTrue(list.stdout.contains("  deepspeed   ds_config.json and launch.sh (Megatron-DeepSpeed flags for an LLM plan) (needs an export.deepspeed section in the space)\n"), list.stdout)
    }

    func testAMisspeltKeyOrParameterStopsTheSearchBeforeItsFirstTrial() {
        let key = searchExample { $0.replacingOccurrences(of: "\"optimizer.params.lr\"", with: "\"optimizer.params.lrr\"") }
        XCTAssertEqual(key.status, 2)
        XCTAssertTrue(key.stderr.hasSuffix("space.json: export.deepspeed.map (training.lr): 'optimizer.params.lrr' is not a DeepSpeed key. Did you mean 'lr'?\n"), key.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))
        let accelerate = searchExample { $0.replacingOccurrences(of: "\"mixed_precison\"", with: "x").replacingOccurrences(of: "\"mixed_precision\"", with: "\"mixed_precison\"") }
        XCTAssertEqual(accelerate.status, 2)
        XCTAssertTrue(accelerate.stderr.hasSuffix("export.accelerate.map (training.precision): 'mixed_precison' is not an Accelerate config key. Did you mean 'mixed_precision'?\n"), accelerate.stderr)
        let parameter = searchExample { $0.replacingOccurrences(of: "\"micro_batch\": \"train_micro", with: "\"micro_bach\": \"train_micro") }
        XCTAssertEqual(parameter.status, 2)
        XCTAssertTrue(parameter.stderr.hasSuffix("export.deepspeed.map.micro_bach: 'micro_bach' names no parameter of the space. Did you mean 'micro_batch'?\n"), parameter.stderr)
    }

}
