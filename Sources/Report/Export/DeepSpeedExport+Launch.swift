import Engine
import Foundation

/// The commands that start a DeepSpeed job. An engine trial's model is the user's training
/// script (`train.py`); a meta trial's model is the GPT it was costed on, trained with
/// Megatron-DeepSpeed's `pretrain_gpt.py`, whose flags carry what DeepSpeed leaves to the model
/// code: tensor and pipeline parallelism, sequence parallelism, selective recomputation,
/// FlashAttention and Transformer Engine's FP8.
extension DeepSpeedExport {
    /// The script a launch runs, and its arguments after the config.
    public static func scriptArguments(_ s: TrainingSetup, configPath: String, script: String? = nil) -> [String] {
        guard s.transformer != nil else {
            return [script ?? "train.py", "--deepspeed", "--deepspeed_config", shellQuoted(configPath)]
        }
        return [script ?? "pretrain_gpt.py"] + megatronFlags(s) + ["--deepspeed", "--deepspeed_config", shellQuoted(configPath)]
    }

    /// Megatron-DeepSpeed's flags for a meta trial (empty for an engine trial): model shape,
    /// batch, parallel layout, precision, recomputation and kernels.
    ///
    /// | trial setting | flag |
    /// |---|---|
    /// | layers, hidden, heads, sequence | `--num-layers`, `--hidden-size`, `--num-attention-heads`, `--seq-length`, `--max-position-embeddings` |
    /// | micro-batch, global batch | `--micro-batch-size`, `--global-batch-size` |
    /// | tp, pp | `--tensor-model-parallel-size`, `--pipeline-model-parallel-size` (`--no-pipeline-parallel` at pp 1) |
    /// | sequence parallelism | `--sequence-parallel` |
    /// | no scatter/gather of pipeline sends | `--no-scatter-gather-tensors-in-pipeline` |
    /// | ZeRO stage, optimizer offload | `--zero-stage`, `--cpu-optimizer` |
    /// | fp16, bf16, fp8 | `--fp16`, `--bf16`, `--bf16 --fp8-hybrid --transformer-impl transformer_engine` |
    /// | selective recomputation | `--recompute-granularity selective` |
    /// | full recomputation | `--recompute-granularity full --recompute-method uniform --recompute-num-layers 1 --deepspeed-activation-checkpointing` (+ `--partition-activations` at tp > 1) |
    /// | FlashAttention | `--use-flash-attn-v2` |
    /// | kv heads, MLP width | `--num-key-value-heads`, `--ffn-hidden-size` |
    /// | SwiGLU, RMSNorm | `--swiglu`, `--normalization rmsnorm` |
    /// | rotary positions | `--use-rotary-position-embeddings --no-position-embedding` |
    /// | untied embeddings, no biases | `--untie-embeddings-and-output-weights`, `--disable-bias-linear` |
    /// | experts, top-k, ep | `--num-experts`, `--topk`, `--expert-interval 1` (every layer; its default is 2), `--moe-expert-parallel-size` |
    /// | capacity factor, dropless | `--moe-train-capacity-factor`, `--disable-moe-token-dropping` |
    ///
    /// The names are Megatron-DeepSpeed's (`megatron/arguments.py`). Its pipeline engine has no ring
    /// attention: context parallelism is in the DeepSpeed export's lost settings.
    public static func megatronFlags(_ s: TrainingSetup) -> [String] {
        guard let m = s.transformer else { return [] }
        var f = ["--num-layers", String(m.layers), "--hidden-size", String(m.hidden), "--num-attention-heads", String(m.heads),
                 "--seq-length", String(m.sequenceLength), "--max-position-embeddings", String(m.sequenceLength)]
        if m.ffnWidth != 4 * m.hidden { f += ["--ffn-hidden-size", String(m.ffnWidth)] }
        if m.keyValueHeads != m.heads { f += ["--num-key-value-heads", String(m.keyValueHeads)] }
        if m.mlp == .swiglu { f.append("--swiglu") }
        if m.norm == .rmsNorm { f += ["--normalization", "rmsnorm"] }
        if m.positions == .rotary { f += ["--use-rotary-position-embeddings", "--no-position-embedding"] }
        if !m.tiedEmbeddings { f.append("--untie-embeddings-and-output-weights") }
        if !m.bias { f.append("--disable-bias-linear") }
        if m.isMixtureOfExperts {
            f += ["--num-experts", String(m.experts), "--topk", String(m.topK), "--expert-interval", "1",
                  "--moe-expert-parallel-size", String(s.expertParallel)]
            if let c = m.capacityFactor { f += ["--moe-train-capacity-factor", JSONValue.format(c)] }
            else { f.append("--disable-moe-token-dropping") }
        }
        f += ["--micro-batch-size", String(s.microBatch), "--global-batch-size", String(s.globalBatch),
              "--tensor-model-parallel-size", String(s.tp), "--pipeline-model-parallel-size", String(s.pp)]
        if s.pp == 1 { f.append("--no-pipeline-parallel") }
        if s.sequenceParallel && s.tp > 1 { f.append("--sequence-parallel") }
        if s.pp > 1 && s.tp > 1 && !s.scatterGather { f.append("--no-scatter-gather-tensors-in-pipeline") }
        f += ["--zero-stage", String(s.zeroStage)]
        if s.offloadOptimizer { f.append("--cpu-optimizer") }
        switch s.precision.format {
        case .fp16: f.append("--fp16")
        case .bf16: f.append("--bf16")
        case .fp8: f += ["--bf16", "--fp8-hybrid", "--transformer-impl", "transformer_engine"]
        case .fp32, .tf32: break
        }
        switch s.checkpointing {
        case .none: break
        case .selective: f += ["--recompute-granularity", "selective"]
        case .full:
            f += ["--recompute-granularity", "full", "--recompute-method", "uniform", "--recompute-num-layers", "1",
                  "--deepspeed-activation-checkpointing"]
            if s.tp > 1 { f.append("--partition-activations") }
        }
        if s.flashAttention { f.append("--use-flash-attn-v2") }
        return f
    }

    /// The two ways to start the job: DeepSpeed's launcher and torchrun.
    public static func launchCommands(_ s: TrainingSetup, configPath: String, script: String? = nil) -> (deepspeed: String, torchrun: String) {
        let tail = scriptArguments(s, configPath: configPath, script: script).joined(separator: " ")
        let deepspeed = (s.nodes > 1 ? "deepspeed --hostfile hostfile " : "deepspeed ") + "--num_nodes \(s.nodes) --num_gpus \(s.gpusPerNode) " + tail
        let torchrun = s.nodes > 1
            ? "torchrun --nnodes \(s.nodes) --nproc_per_node \(s.gpusPerNode) --node_rank \"$NODE_RANK\" --master_addr \"$MASTER_ADDR\" --master_port 29500 " + tail
            : "torchrun --standalone --nproc_per_node \(s.gpusPerNode) " + tail
        return (deepspeed, torchrun)
    }

    /// A shell script that runs the DeepSpeed launcher, with the torchrun line as the alternative.
    /// Arguments given to the script are passed on (the data and tokenizer a Megatron run needs).
    public static func launchScript(_ s: TrainingSetup, configPath: String, title: String) -> String {
        let (deepspeed, torchrun) = launchCommands(s, configPath: configPath)
        var lines = ["#!/bin/sh", "# \(title)", "# \(s.nodes) node(s) × \(s.gpusPerNode) GPU(s): dp \(s.dp) × tp \(s.tp) × pp \(s.pp)."]
        if s.transformer != nil {
            lines.append("# Run from a Megatron-DeepSpeed checkout; give the data and tokenizer arguments to this script,")
            lines.append("# e.g. ./launch.sh --data-path DATA --vocab-file VOCAB --merge-file MERGES --train-iters N")
        }
        if s.nodes > 1 { lines.append("# 'hostfile' lists the \(s.nodes) nodes, one line each: HOSTNAME slots=\(s.gpusPerNode)") }
        lines += ["set -e", deepspeed + " \"$@\"", "",
                  "# The same job with torchrun" + (s.nodes > 1 ? " (on every node, with NODE_RANK and MASTER_ADDR set)" : "") + ":",
                  "# " + torchrun + " \"$@\""]
        return lines.joined(separator: "\n") + "\n"
    }
}
