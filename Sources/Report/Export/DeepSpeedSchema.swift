import Engine
import Search

/// The keys a `ds_config.json` may hold and the JSON type of each, as DeepSpeed's configuration
/// documentation gives them (the sections this tool writes: batch sizes, optimizer, scheduler,
/// fp16, bf16, ZeRO with offload, activation checkpointing, clipping, logging). A key outside the
/// schema or a value of the wrong type is a violation, so a misspelt key cannot slip into an
/// export.
///
///     DeepSpeedSchema.violations(.object([("train_batch_size", .string("32"))]))
///     // ["train_batch_size: expected an integer, got a string"]
public enum DeepSpeedSchema {
    indirect enum Rule {
        case integer, number, boolean, string
        /// One of these strings.
        case oneOf([String])
        /// An integer or null.
        case integerOrNull
        /// An array of `count` numbers.
        case numbers(count: Int)
        /// An object with these keys (each optional).
        case object([String: Rule])
        /// `{"type": T, "params": {...}}` with the params T takes.
        case typed([String: [String: Rule]])
    }

    static let offloadDevices = ["cpu", "nvme", "none"]
    static let warmupTypes = ["log", "linear"]

    static let adamParams: [String: Rule] = ["lr": .number, "betas": .numbers(count: 2), "eps": .number, "weight_decay": .number,
                                             "bias_correction": .boolean, "amsgrad": .boolean, "adam_w_mode": .boolean, "torch_adam": .boolean]
    static let warmupParams: [String: Rule] = ["warmup_min_lr": .number, "warmup_max_lr": .number, "warmup_num_steps": .integer,
                                               "warmup_type": .oneOf(warmupTypes), "last_batch_iteration": .integer]

    static let top: [String: Rule] = [
        "train_batch_size": .integer, "train_micro_batch_size_per_gpu": .integer, "gradient_accumulation_steps": .integer,
        "optimizer": .typed([
            "Adam": adamParams, "AdamW": adamParams,
            "Lamb": ["lr": .number, "betas": .numbers(count: 2), "eps": .number, "weight_decay": .number, "bias_correction": .boolean,
                     "max_grad_norm": .number, "max_coeff": .number, "min_coeff": .number],
            "SGD": ["lr": .number, "momentum": .number, "dampening": .number, "weight_decay": .number, "nesterov": .boolean],
        ]),
        "scheduler": .typed([
            "WarmupLR": warmupParams,
            "WarmupDecayLR": warmupParams.merging(["total_num_steps": .integer]) { $1 },
            "WarmupCosineLR": ["total_num_steps": .integer, "warmup_min_ratio": .number, "warmup_num_steps": .integer,
                               "cos_min_ratio": .number, "warmup_type": .oneOf(warmupTypes), "last_batch_iteration": .integer],
        ]),
        "fp16": .object(["enabled": .boolean, "auto_cast": .boolean, "loss_scale": .number, "initial_scale_power": .integer,
                         "loss_scale_window": .integer, "hysteresis": .integer, "consecutive_hysteresis": .boolean,
                         "min_loss_scale": .number]),
        "bf16": .object(["enabled": .boolean]),
        "zero_optimization": .object([
            "stage": .integer, "allgather_partitions": .boolean, "allgather_bucket_size": .integer, "overlap_comm": .boolean,
            "reduce_scatter": .boolean, "reduce_bucket_size": .integer, "contiguous_gradients": .boolean,
            "round_robin_gradients": .boolean, "sub_group_size": .integer,
            "offload_optimizer": .object(["device": .oneOf(offloadDevices), "nvme_path": .string, "pin_memory": .boolean,
                                          "ratio": .number, "buffer_count": .integer, "fast_init": .boolean]),
            "offload_param": .object(["device": .oneOf(offloadDevices), "nvme_path": .string, "pin_memory": .boolean,
                                      "buffer_count": .integer, "buffer_size": .integer, "max_in_cpu": .integer]),
            "stage3_max_live_parameters": .integer, "stage3_max_reuse_distance": .integer, "stage3_prefetch_bucket_size": .integer,
            "stage3_param_persistence_threshold": .integer, "stage3_gather_16bit_weights_on_model_save": .boolean,
        ]),
        "activation_checkpointing": .object(["partition_activations": .boolean, "cpu_checkpointing": .boolean,
                                             "contiguous_memory_optimization": .boolean, "number_checkpoints": .integerOrNull,
                                             "synchronize_checkpoint_boundary": .boolean, "profile": .boolean]),
        "gradient_clipping": .number, "steps_per_print": .integer, "wall_clock_breakdown": .boolean,
        "zero_allow_untested_optimizer": .boolean,
    ]

    /// Why the dotted key `path` is not a DeepSpeed key, or nil when it is one (a typed
    /// section's `params.X` is one when any of its types takes X).
    static func keyProblem(_ path: [String]) -> String? {
        var rule = Rule.object(top)
        for (i, key) in path.enumerated() {
            let at = path[...i].joined(separator: ".")
            switch rule {
            case .object(let keys):
                guard let next = keys[key] else {
                    return "'\(at)' is not a DeepSpeed key" + (closestMatch(to: key, among: Array(keys.keys)).map { ". Did you mean '\($0)'?" } ?? "")
                }
                rule = next
            case .typed(let types):
                if key == "type" { rule = .oneOf(types.keys.sorted()); continue }
                guard key == "params" else { return "'\(at)' is not a DeepSpeed key (a typed section holds type and params)" }
                rule = .object(types.values.reduce(into: [:]) { $0.merge($1) { a, _ in a } })
            default:
                return "'\(path[..<i].joined(separator: "."))' holds a value, not keys"
            }
        }
        return nil
    }

    /// Every way `config` breaks the schema, as "key.path: reason" lines (empty when it fits).
    /// Also checks what DeepSpeed checks across keys: fp16 and bf16 are not both enabled.
    public static func violations(_ config: JSONValue) -> [String] {
        var out: [String] = []
        check(config, .object(top), at: "", into: &out)
        if config["fp16"]?["enabled"] == .bool(true), config["bf16"]?["enabled"] == .bool(true) {
            out.append("fp16, bf16: both enabled (DeepSpeed takes one)")
        }
        return out
    }

    private static func check(_ value: JSONValue, _ rule: Rule, at path: String, into out: inout [String]) {
        func fail(_ expected: String) { out.append("\(path): expected \(expected), got \(value.kindName)") }
        func join(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        func isInteger(_ v: JSONValue) -> Bool { v.number.map { $0 == $0.rounded() && abs($0) < 9e15 } ?? false }
        switch rule {
        case .integer: if !isInteger(value) { fail("an integer") }
        case .integerOrNull: if value != .null, !isInteger(value) { fail("an integer or null") }
        case .number: if value.number == nil { fail("a number") }
        case .boolean: if case .bool = value {} else { fail("true or false") }
        case .string: if value.string == nil { fail("a string") }
        case .oneOf(let names):
            guard let s = value.string, names.contains(s) else { return fail("one of \(names.joined(separator: ", "))") }
        case .numbers(let count):
            guard let items = value.elements, items.count == count, items.allSatisfy({ $0.number != nil }) else {
                return fail("an array of \(count) numbers")
            }
        case .object(let keys):
            guard let members = value.members else { return fail("an object") }
            for m in members {
                guard let r = keys[m.key] else { out.append("\(join(m.key)): not a DeepSpeed key here"); continue }
                check(m.value, r, at: join(m.key), into: &out)
            }
        case .typed(let types):
            guard let members = value.members else { return fail("an object") }
            guard let type = value["type"]?.string, let params = types[type] else {
                out.append("\(join("type")): expected one of \(types.keys.sorted().joined(separator: ", "))")
                return
            }
            for m in members where m.key != "type" && m.key != "params" { out.append("\(join(m.key)): not a DeepSpeed key here") }
            if let p = value["params"] { check(p, .object(params), at: join("params"), into: &out) }
        }
    }
}
