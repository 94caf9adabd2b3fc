import Foundation
import XCTest

/// `autotune estimate` and `autotune bench costmodel` through the built executable.
final class EstimateCommandTests: ScratchTestCase {
    static let gpt3 = ["--layers", "96", "--hidden", "12288", "--heads", "96", "--seq", "2048", "--vocab", "51200"]

    func testGPT3On1024GPUs() {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--nodes", "128", "--tp", "8", "--pp", "8",
                                                        "--zero", "1", "--global-batch", "1536", "--checkpointing", "full"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { String($0.prefix(12)) },
                       ["model       ", "cluster     ", "plan        ", "FLOPs       ", "parameters  ", "memory      ",
                        "step time   ", "throughput  ", "energy      ", "cost        "])
        XCTAssertEqual(lines[1], "cluster     128 × 8 A100-SXM-80GB (1024 devices)")
        XCTAssertTrue(lines[2].hasPrefix("plan        dp 16 × tp 8 × pp 8, ZeRO 1, micro-batch 1 × 96 per step, global batch 1536"), lines[2])
        XCTAssertTrue(lines[0].contains("174.62G parameters"), lines[0])
        // 1,024 devices at $5.1207 an hour cost $1.4566 a second: the dollars per million tokens are
        // that over the tokens per second (in the JSON test below to full precision).
        XCTAssertTrue(lines[9].hasPrefix("cost        $"), lines[9])
        XCTAssertTrue(lines[9].contains(" per million tokens, $"), lines[9])
        XCTAssertTrue(lines[9].hasSuffix(" per step, at $5.1207 per device-hour (AWS p4de.24xlarge on-demand list price, us-east-1, 2024: $40.9657/h ÷ 8 A100-SXM4-80GB)"), lines[9])
        let perMillion = Double(lines[9].dropFirst("cost        $".count).prefix { $0 != " " }) ?? 0
        let tokensPerSecond = 1536.0 * 2048 / (Double(lines[6].dropFirst("step time   ".count).prefix { $0 != " " }) ?? 1)
        XCTAssertEqual(perMillion, 5.1207 * 1024 / 3600 / tokensPerSecond * 1e6, accuracy: 0.01)
    }

    func testNoCostLineWithoutAPriceOrAFit() {
        let small = ["--layers", "2", "--hidden", "64", "--heads", "4", "--seq", "16", "--vocab", "100"]
        let bought = runAutotune(["estimate"] + small + ["--hardware", "RTX-4090"])
        XCTAssertEqual(bought.status, 0, bought.stderr)
        XCTAssertFalse(bought.stdout.contains("\ncost "), bought.stdout)
        let crammed = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--gpus-per-node", "1", "--allow-infeasible"])
        XCTAssertTrue(crammed.stdout.contains("INFEASIBLE  needs "), crammed.stdout)
        XCTAssertFalse(crammed.stdout.contains("\ncost "), crammed.stdout)
        let rented = runAutotune(["estimate"] + small + ["--hardware", "T4", "--gpus-per-node", "1", "--precision", "fp16"])
        XCTAssertTrue(rented.stdout.contains("per step, at $0.526 per device-hour (AWS g4dn.xlarge (1 T4) on-demand list price, us-east-1, 2024)\n"), rented.stdout)
    }

    func testJSONIsOneDocument() throws {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "H100-SXM-80GB", "--nodes", "64", "--tp", "8", "--pp", "4",
                                                        "--global-batch", "512", "--micro-batch", "1", "--json", "--allow-infeasible"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let estimate = doc?["estimate"] as? [String: Any]
        XCTAssertEqual(doc?["hardware"] as? String, "H100-SXM-80GB")
        XCTAssertEqual((estimate?["plan"] as? [String: Any])?["dp"] as? Int, 16)
        XCTAssertNotNil((estimate?["time"] as? [String: Any])?["compute"])
        XCTAssertNotNil((estimate?["memory"] as? [String: Any])?["activations"])
        // The price it is costed at; this plan does not fit (134 GiB a device), so it has no cost.
        XCTAssertEqual(doc?["price_per_hour_usd"] as? Double, 12.29)
        XCTAssertEqual(doc?["price_source"] as? String, "AWS p5.48xlarge on-demand list price, us-east-1, 2024: $98.32/h ÷ 8 H100-SXM-80GB")
        XCTAssertNotNil(estimate?["infeasible"])
        XCTAssertEqual(doc?["device_memory_gib"] as? Double, 80)
        XCTAssertGreaterThan(doc?["memory_needed_gib"] as? Double ?? 0, 80)
        // ZeRO-1 shards the 12 bytes of optimizer state per parameter over the 16 data ranks.
        XCTAssertEqual((doc?["fits_with"] as? [String: Any])?["option"] as? String, "--zero 1")
        XCTAssertLessThanOrEqual((doc?["fits_with"] as? [String: Any])?["memory"] as? Double ?? .infinity, 80 * 1_073_741_824)
        XCTAssertNil(estimate?["dollars_per_million_tokens"])
        XCTAssertNil(estimate?["dollars_per_step"])
    }

    func testJSONCostIsThePriceOfTheDevicesOverTheTokens() throws {
        let r = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "H100-SXM-80GB", "--nodes", "64", "--tp", "8", "--pp", "4",
                                                        "--global-batch", "512", "--zero", "1", "--checkpointing", "full", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let estimate = doc?["estimate"] as? [String: Any]
        XCTAssertNil(estimate?["infeasible"])
        // 512 devices at $12.29 an hour, over the step's 512 × 2048 tokens.
        let tokensPerSecond = estimate?["tokens_per_second"] as? Double ?? 0
        let step = 512.0 * 2048 / tokensPerSecond
        let perMillion = estimate?["dollars_per_million_tokens"] as? Double ?? 0
        XCTAssertEqual(perMillion, 12.29 * 512 / 3600 / tokensPerSecond * 1e6, accuracy: 1e-9 * perMillion)
        XCTAssertEqual(estimate?["dollars_per_step"] as? Double ?? 0, 12.29 * 512 / 3600 * step, accuracy: 1e-9 * perMillion)
    }

    /// A plan that does not fit exits 1 with one line: needed against available memory and the
    /// first single change that fits; `--allow-infeasible` prints the estimate and exits 0.
    func testAPlanThatDoesNotFitSaysSo() {
        let plan = Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--nodes", "16", "--tp", "8", "--global-batch", "16"]
        let r = runAutotune(["estimate"] + plan)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "autotune: error: the plan does not fit: needs 355 GiB per device, A100-SXM-80GB has 80 GiB; "
                       + "it fits with --zero 3 (54 GiB per device); --allow-infeasible prints the estimate anyway\n")
        let allowed = runAutotune(["estimate"] + plan + ["--allow-infeasible"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stdout.contains("INFEASIBLE  needs 355 GiB per device, A100-SXM-80GB has 80 GiB; it fits with --zero 3"), allowed.stdout)
        // --json prints the document, with the same information as keys, and still exits 1.
        let json = runAutotune(["estimate"] + plan + ["--json"])
        XCTAssertEqual(json.status, 1)
        let doc = (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any]
        XCTAssertEqual((doc?["fits_with"] as? [String: Any])?["option"] as? String, "--zero 3")
        XCTAssertEqual(((doc?["fits_with"] as? [String: Any])?["plan"] as? [String: Any])?["zero"] as? Int, 3)
        XCTAssertEqual(doc?["memory_needed_gib"] as? Double ?? 0, 355, accuracy: 0.5)
        XCTAssertEqual(json.stderr.split(separator: "\n").count, 1, json.stderr)
        let hopeless = runAutotune(["estimate"] + Self.gpt3 + ["--hardware", "A100-SXM-80GB", "--gpus-per-node", "1"])
        XCTAssertEqual(hopeless.status, 1)
        XCTAssertTrue(hopeless.stderr.contains("; no single change (a higher ZeRO stage, recomputation, twice the tp or pp, half the micro-batch, offload) makes it fit;"),
                      hopeless.stderr)
    }

    /// Sizes past any real model are refused at once, naming the flag; the depth costs nothing to
    /// trace (one layer is traced and multiplied), so a deep model is as quick as a shallow one.
    func testHugeSizesAreRefusedAndDepthIsFree() throws {
        func run(_ args: [String]) -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
            let start = Date()
            let r = runAutotune(["estimate"] + args + ["--hardware", "A100-SXM-80GB"])
            return (r.status, r.stdout, r.stderr, Date().timeIntervalSince(start))
        }
        var r = run(["--layers", "1000000", "--hidden", "1024", "--heads", "16", "--seq", "2048", "--vocab", "50000"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: --layers: 1000000 is past what an estimate costs (at most 100000)\n")
        r = run(["--layers", "2", "--hidden", "4000000000", "--heads", "16", "--seq", "4000000000", "--vocab", "4000000000"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: --hidden: "), r.stderr)
        // 2^24 tokens of context with 32 heads: 2^48 · 32 = 2^53 attention scores, past exact integers.
        r = run(["--layers", "2", "--hidden", "4096", "--heads", "32", "--seq", "16777216", "--vocab", "1000"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: --seq: micro-batch × sequence² × heads (attention scores) = 9.01e+15"), r.stderr)
        r = run(["--layers", "2", "--hidden", "1024", "--heads", "16", "--seq", "2048", "--vocab", "50000", "--nodes", "9223372036854775807"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("for '--nodes': 9223372036854775807 nodes is more than any cluster has"), r.stderr)

        r = run(["--layers", "100000", "--hidden", "4096", "--heads", "32", "--seq", "2048", "--vocab", "50000", "--allow-infeasible"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("100000 layers"), r.stdout)
        XCTAssertLessThan(r.seconds, 10, "one traced layer, multiplied")
    }

    /// Built-in shapes by name, a model file with the shape keys, flags overriding either, and the
    /// errors naming the flag or the file's key.
    func testModelShapesByNameFileAndFlags() throws {
        var r = runAutotune(["estimate", "--model", "llama3-8b", "--hardware", "H100-SXM-80GB", "--tp", "8", "--allow-infeasible", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((doc["estimate"] as? [String: Any])?["parameters"] as? Int, 8_030_261_248)
        XCTAssertEqual((doc["model"] as? [String: Any])?["kv_heads"] as? Int, 8)

        // The file's values, with --layers and --experts overriding them.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("estimate-shape-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("moe.json")
        try Data(#"{"family": "gpt", "layers": 4, "hidden": 512, "heads": 8, "kv_heads": 2, "sequence_length": 256, "vocabulary": 1000, "mlp": "swiglu", "ffn_hidden": 1024, "norm": "rmsnorm", "positions": "rotary", "bias": false, "experts": 4, "top_k": 2}"#.utf8).write(to: file)
        r = runAutotune(["estimate", "--model", file.path, "--layers", "2", "--hardware", "A100-SXM-80GB", "--expert-parallel", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("(2 layers, hidden 512, 8 heads, sequence 256, vocabulary 1000; 2 kv heads, SwiGLU 1024, RMSNorm, rotary positions, no biases, 4 experts, top-2, dropless)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("dp 8 × tp 1 × pp 1, ep 4"), r.stdout)

        r = runAutotune(["estimate", file.path, "--hardware", "A100-SXM-80GB", "--expert-parallel", "3"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: --expert-parallel: 3 does not divide the data-parallel size 8 (expert-parallel ranks are data-parallel ranks)\n")
        r = runAutotune(["estimate", file.path, "--hardware", "A100-SXM-80GB", "--kv-heads", "3"])
        XCTAssertEqual(r.stderr, "autotune: error: model: --kv-heads: 3 does not divide the 8 attention heads\n")
        try Data(#"{"family": "gpt", "layers": 4, "hidden": 512, "heads": 8, "kv_heads": 3, "sequence_length": 256, "vocabulary": 1000}"#.utf8).write(to: file)
        r = runAutotune(["estimate", file.path, "--hardware", "A100-SXM-80GB"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: \(file.path): architecture.kv_heads: 3 does not divide the 8 attention heads\n")
        r = runAutotune(["estimate", "--model", "llama3-7b", "--hardware", "A100-SXM-80GB"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("neither a built-in shape nor a file") && r.stderr.contains("Did you mean 'llama3-8b'?"), r.stderr)
        r = runAutotune(["estimate", "--model", "llama3-8b", "--hardware", "H100-SXM-80GB", "--tp", "8", "--context-parallel", "3"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: invalid value '8' for '--tp': tp × pp × cp = 24 does not divide"), r.stderr)
    }

    func testBadInput() {
        let small = ["--layers", "2", "--hidden", "32", "--heads", "4", "--seq", "8", "--vocab", "10"]
        var r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--tp", "3"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: invalid value '3' for '--tp': tp × pp = 3 does not divide the cluster's 8 devices\nSee 'autotune estimate --help'.\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--tp", "8"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: --tp: 8 does not divide the 4 attention heads\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "a100"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasSuffix("Did you mean 'A100-SXM-40GB'?\n"), r.stderr)
        r = runAutotune(["estimate", "--layers", "2", "--hidden", "30", "--heads", "4", "--seq", "8", "--vocab", "10", "--hardware", "L4"])
        XCTAssertEqual(r.stderr, "autotune: error: model: --heads: 4 does not divide hidden 30\n")
        XCTAssertEqual(r.status, 2)
        r = runAutotune(["estimate", "--hardware", "L4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: missing value for '--layers'"), r.stderr)
        r = runAutotune(["estimate", "nope.json", "--hardware", "L4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "autotune: error: nope.json: no such file\n")
        r = runAutotune(["estimate"] + small + ["--hardware", "L4", "--precision", "fp12"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("invalid value 'fp12' for '--precision'"), r.stderr)
    }

    /// FLOPs keys spelled as words, exposed and hidden communication, the new plan flags echoed in
    /// the plan, one device in the singular, and a tensor group wider than a node warned about.
    func testJSONKeysPlanFlagsAndWarnings() throws {
        let small = ["--layers", "8", "--hidden", "1024", "--heads", "16", "--seq", "1024", "--vocab", "1000"]
        var r = runAutotune(["estimate"] + small + ["--hardware", "A100-SXM-80GB", "--pp", "2", "--virtual-stages", "2", "--global-batch", "16",
                                                    "--overlap-grad-reduce", "--no-scatter-gather", "--no-flash-attention", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let estimate = try XCTUnwrap(doc?["estimate"] as? [String: Any])
        XCTAssertNotNil(estimate["model_flops_per_step"]); XCTAssertNil(estimate["model_flo_ps_per_step"])
        XCTAssertNotNil((estimate["time"] as? [String: Any])?["hidden_communication"])
        XCTAssertNotNil((estimate["time"] as? [String: Any])?["exposed_communication"])
        let plan = try XCTUnwrap(estimate["plan"] as? [String: Any])
        XCTAssertEqual(plan["virtual_stages"] as? Int, 2); XCTAssertEqual(plan["scatter_gather"] as? Bool, false)
        XCTAssertEqual(plan["overlap_grad_reduce"] as? Bool, true); XCTAssertEqual(plan["flash_attention"] as? Bool, false)

        r = runAutotune(["estimate"] + small + ["--hardware", "A100-SXM-80GB", "--gpus-per-node", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("cluster     1 × 1 A100-SXM-80GB (1 device)\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains(", FlashAttention"), "the profile's default")
        XCTAssertTrue(r.stdout.contains(" hidden behind the backward pass"), r.stdout)

        r = runAutotune(["estimate"] + small + ["--hardware", "A100-SXM-80GB", "--nodes", "2", "--tp", "16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "autotune: warning: the tensor-parallel group of 16 devices is wider than a node of 8: "
                                 + "its all-reduces run over the inter-node link; keep tp ≤ 8\n")

        r = runAutotune(["estimate"] + small + ["--hardware", "A100-SXM-80GB", "--flash-attention", "--no-flash-attention"])
        XCTAssertEqual(r.status, 2)
    }

    func testCostModelBenchmarkRecordsItsError() throws {
        let r = runAutotune(["bench", "costmodel", "--no-calibrate", "--no-deepspeed", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let results = doc?["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.compactMap { $0["name"] as? String },
                       ["megatron.throughput_mape", "korthikanti.mfu_mape", "speed.estimate_405b_seconds", "speed.meta_study_2000_seconds"])
        for record in results {
            XCTAssertGreaterThan(record["value"] as? Double ?? -1, 0, "\(record)")
        }
        XCTAssertEqual(results.first?["unit"] as? String, "%")
        XCTAssertLessThanOrEqual(results.first?["value"] as? Double ?? 100, 5, "the calibration set stays within 5% MAPE")
    }

    /// With DeepSpeed's environment the table's worst row is within 1% of DeepSpeed's estimators;
    /// without it the table is skipped with a note.
    func testCostModelBenchmarkComparesMemoryWithDeepSpeed() throws {
        let r = runAutotune(["bench", "costmodel", "--no-calibrate", "--no-speed", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let results = doc?["results"] as? [[String: Any]] ?? []
        let worst = results.first { $0["name"] as? String == "deepspeed.memory.max_error" }?["value"] as? Double
        if let worst {
            XCTAssertLessThanOrEqual(worst, 1)
        } else {
            XCTAssertTrue(r.stderr.contains("DeepSpeed memory table skipped"), r.stderr)
        }
        let skipped = runAutotune(["bench", "costmodel", "--no-calibrate", "--no-speed", "--json"], environment: ["AUTOTUNE_DEEPSPEED_VENV": "/nonexistent"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("DeepSpeed memory table skipped"), skipped.stderr)
    }

    /// FP8 on an A100, BF16 on a V100: exit 2 with one line naming the device, the format and the
    /// formats it has.
    func testPrecisionTheDeviceLacksIsBadInput() {
        let small = ["--layers", "2", "--hidden", "64", "--heads", "4", "--seq", "16", "--vocab", "100"]
        let fp8 = runAutotune(["estimate"] + small + ["--hardware", "A100-SXM-80GB", "--precision", "fp8"])
        XCTAssertEqual(fp8.status, 2)
        XCTAssertEqual(fp8.stderr, "autotune: error: --precision fp8: A100-SXM-80GB has no fp8 units; it trains in fp32, tf32, fp16, bf16\n")
        let bf16 = runAutotune(["estimate"] + small + ["--hardware", "V100-SXM2-32GB", "--precision", "bf16"])
        XCTAssertEqual(bf16.status, 2)
        XCTAssertEqual(bf16.stderr, "autotune: error: --precision bf16: V100-SXM2-32GB has no bf16 units; it trains in fp32, fp16\n")
        // Without --precision a V100 trains in FP16, its fastest format.
        let unnamed = runAutotune(["estimate"] + small + ["--hardware", "V100-SXM2-32GB"])
        XCTAssertEqual(unnamed.status, 0, unnamed.stderr)
        XCTAssertTrue(unnamed.stdout.contains(", fp16, checkpointing"), unnamed.stdout)
    }
}
