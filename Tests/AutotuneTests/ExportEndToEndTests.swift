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
        // The knee's model, trained again from its recipe, as ONNX: the rerun scores what the study stored.
        let onnx = runAutotune(["export", "tiny", "--db", db, "--format", "onnx", "--json"], in: scratch)
        XCTAssertEqual(onnx.status, 0, onnx.stderr)
        let onnxReport = try json(onnx.stdout)
        let knee = try XCTUnwrap(onnxReport["trial"] as? Int)
        let accuracy = try XCTUnwrap((trials.first { $0["trial"] as? Int == knee }?["metrics"] as? [String: Double])?["accuracy"])
        XCTAssertEqual(onnxReport["notes"] as? [String],
                       ["retrained trial \(knee) of study 'tiny' from its recipe: test accuracy \(String(format: "%.4f", accuracy)) (the study stored \(String(format: "%.4f", accuracy)))"])
        let model = try Data(contentsOf: scratch.appendingPathComponent("tiny/model.onnx"))
        XCTAssertEqual(model.first, 0x08, "ModelProto field 1 (ir_version), a varint")
        XCTAssertGreaterThan(model.count, 500)
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
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("autotune: error: missing value for '--format'"), missing.stderr)
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
        XCTAssertEqual(refused.stderr, "autotune: error: export would lose: compression step 1: prune; tf32 precision (the engine rounds "
                       + "activations to TF32; torch's TF32 switch only changes CUDA matmuls) (write it anyway with --allow-loss)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
        let allowed = runAutotune(["export", "pruned", "--db", db, "--format", "pytorch", "--out", out, "--allow-loss"], in: scratch)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("autotune: warning: dropped compression step 1: prune\n"), allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("autotune: warning: dropped tf32 precision"), allowed.stderr)
        let script = try String(contentsOfFile: out + "/train.py", encoding: .utf8)
        XCTAssertTrue(script.contains("torch.optim.SGD(groups, lr=LEARNING_RATE, momentum=0.9, nesterov=False)"), script)
    }
}
