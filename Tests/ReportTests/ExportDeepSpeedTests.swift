import Compression
import Engine
import Parallel
import Search
import XCTest
@testable import Report

/// The ds_config mapping piece by piece, and every generated config checked against the schema
/// written from DeepSpeed's configuration documentation.
final class ExportDeepSpeedTests: XCTestCase {
    private func setup(_ optimizer: OptimizerConfig.Name = .adamw, schedule: LearningRateSchedule = LearningRateSchedule(),
                       precision: MixedPrecision = .init(.fp32), zero: Int = 0, offload: Bool = false, totalSteps: Int? = 100) -> TrainingSetup {
        TrainingSetup(nodes: 1, gpusPerNode: 4, dp: 4, zeroStage: zero, offloadOptimizer: offload, microBatch: 8, accumulation: 2,
                      precision: precision, optimizer: OptimizerConfig(optimizer, learningRate: 0.01), schedule: schedule, totalSteps: totalSteps)
    }

    func testTheSchemaCatchesAMisspeltKeyAWrongTypeAndAnUnknownType() {
        let bad: JSONValue = .object([
            ("train_batch_size", .string("32")),
            ("zero_optimization", .object([("stage", .number(2)), ("overlap_com", .bool(true))])),
            ("optimizer", .object([("type", .string("Adamw")), ("params", .object([JSONValue.Member]()))])),
            ("scheduler", .object([("type", .string("WarmupLR")), ("params", .object([("warmup_num_steps", .number(1.5))]))])),
            ("fp16", .object([("enabled", .bool(true))])), ("bf16", .object([("enabled", .bool(true))])),
        ])
        XCTAssertEqual(DeepSpeedSchema.violations(bad), [
            "train_batch_size: expected an integer, got a string",
            "zero_optimization.overlap_com: not a DeepSpeed key here",
            "optimizer.type: expected one of Adam, AdamW, Lamb, SGD",
            "scheduler.params.warmup_num_steps: expected an integer, got a number",
            "fp16, bf16: both enabled (DeepSpeed takes one)",
        ])
    }

    func testEveryGeneratedConfigFitsTheSchemaAndItsBatchIdentity() {
        let schedules = [LearningRateSchedule(), LearningRateSchedule(warmupSteps: 20), LearningRateSchedule(.cosine(minimum: 0.001)),
                         LearningRateSchedule(.cosine(minimum: 0), warmupSteps: 5), LearningRateSchedule(.step(stepSize: 10, gamma: 0.5), warmupSteps: 3)]
        let precisions: [MixedPrecision] = [.init(.fp32), .init(.tf32), .init(.fp16, lossScaling: .dynamic), .init(.fp16),
                                            .init(.fp16, lossScaling: LossScaling(scale: 128)), .init(.bf16), .init(.fp8)]
        for name in OptimizerConfig.Name.allCases {
            for schedule in schedules {
                for precision in precisions {
                    for (zero, offload) in [(0, false), (1, true), (2, false), (3, true)] {
                        var s = setup(name, schedule: schedule, precision: precision, zero: zero, offload: offload)
                        s.checkpointing = zero == 3 ? .full : .none
                        s.layers = 12
                        let config = DeepSpeedExport.config(s).config
                        XCTAssertEqual(DeepSpeedSchema.violations(config), [], config.compactText)
                        let batch = config["train_batch_size"]?.number, micro = config["train_micro_batch_size_per_gpu"]?.number
                        let steps = config["gradient_accumulation_steps"]?.number
                        XCTAssertEqual(batch, (micro ?? 0) * (steps ?? 0) * Double(s.dp))
                    }
                }
            }
        }
    }

    func testOptimizersMapToDeepSpeedsTypes() {
        func optimizer(_ name: OptimizerConfig.Name) -> String? { DeepSpeedExport.config(setup(name)).config["optimizer"]?.compactText }
        XCTAssertEqual(optimizer(.adamw), #"{"type":"AdamW","params":{"lr":0.01,"betas":[0.9,0.999],"eps":1e-08,"weight_decay":0.01}}"#)
        XCTAssertEqual(optimizer(.adam), #"{"type":"Adam","params":{"lr":0.01,"betas":[0.9,0.999],"eps":1e-08,"weight_decay":0,"adam_w_mode":false}}"#)
        XCTAssertEqual(optimizer(.lamb), #"{"type":"Lamb","params":{"lr":0.01,"betas":[0.9,0.999],"eps":1e-06,"weight_decay":0.01,"max_coeff":10,"min_coeff":0}}"#)
        XCTAssertEqual(optimizer(.sgd), #"{"type":"SGD","params":{"lr":0.01,"momentum":0,"nesterov":false,"weight_decay":0}}"#)
    }

    func testSchedulesMapToWarmupSchedulers() {
        func scheduler(_ schedule: LearningRateSchedule, total: Int? = 100) -> (String?, [String]) {
            let job = DeepSpeedExport.config(setup(schedule: schedule, totalSteps: total))
            return (job.config["scheduler"]?.compactText, job.lost)
        }
        XCTAssertEqual(scheduler(LearningRateSchedule()).0, nil)
        XCTAssertEqual(scheduler(LearningRateSchedule(warmupSteps: 20)).0,
                       #"{"type":"WarmupLR","params":{"warmup_min_lr":0,"warmup_max_lr":0.01,"warmup_num_steps":20,"warmup_type":"linear"}}"#)
        XCTAssertEqual(scheduler(LearningRateSchedule(.cosine(minimum: 0.001))).0,
                       #"{"type":"WarmupCosineLR","params":{"total_num_steps":100,"warmup_min_ratio":1,"warmup_num_steps":1,"cos_min_ratio":0.1,"warmup_type":"linear"}}"#)
        let step = scheduler(LearningRateSchedule(.step(stepSize: 10, gamma: 0.5), warmupSteps: 3))
        XCTAssertEqual(step.0, #"{"type":"WarmupLR","params":{"warmup_min_lr":0,"warmup_max_lr":0.01,"warmup_num_steps":3,"warmup_type":"linear"}}"#)
        XCTAssertEqual(step.1, ["the learning rate's step decay (× 0.5 every 10 steps): DeepSpeed has no step-decay scheduler (ds_config keeps the 3-step warmup)"])
        let unknown = scheduler(LearningRateSchedule(.cosine(minimum: 0)), total: nil)
        XCTAssertEqual(unknown.0, nil)
        XCTAssertEqual(unknown.1.count, 1)
    }

    func testPrecisionSections() {
        func sections(_ p: MixedPrecision) -> (fp16: String?, bf16: String?, warnings: [String]) {
            let job = DeepSpeedExport.config(setup(precision: p))
            return (job.config["fp16"]?.compactText, job.config["bf16"]?.compactText, job.lost)
        }
        XCTAssertEqual(sections(.init(.fp16, lossScaling: LossScaling(scale: 128))).fp16,
                       #"{"enabled":true,"loss_scale":128,"initial_scale_power":16,"loss_scale_window":1000,"hysteresis":2,"min_loss_scale":1}"#)
        XCTAssertEqual(sections(.init(.fp16)).fp16?.contains(#""loss_scale":1,"#), true, "no scaling is a fixed scale of 1")
        XCTAssertEqual(sections(.init(.bf16)).bf16, #"{"enabled":true}"#)
        XCTAssertEqual(sections(.init(.fp8)).bf16, #"{"enabled":true}"#)
        XCTAssertEqual(sections(.init(.fp8)).warnings.count, 1, "FP8 without a Megatron model is lost")
        XCTAssertEqual(sections(.init(.tf32)).warnings.count, 1, "TF32 is a PyTorch switch")
        let fp32 = sections(.init(.fp32))
        XCTAssertNil(fp32.fp16); XCTAssertNil(fp32.bf16); XCTAssertEqual(fp32.warnings, [])
    }

    func testZeROStagesAndOffload() {
        func zero(_ stage: Int, offload: Bool = false) -> String? { DeepSpeedExport.config(setup(zero: stage, offload: offload)).config["zero_optimization"]?.compactText }
        XCTAssertEqual(zero(0), #"{"stage":0}"#)
        XCTAssertEqual(zero(3, offload: true), #"{"stage":3,"overlap_comm":true,"contiguous_gradients":true,"reduce_scatter":true,"#
                       + #""reduce_bucket_size":500000000,"offload_optimizer":{"device":"cpu","pin_memory":true},"#
                       + #""stage3_prefetch_bucket_size":0,"stage3_gather_16bit_weights_on_model_save":true}"#)
        // ZeRO-3 prefetch as the plan costs it: DeepSpeed's default bucket when it overlaps, none when not.
        var prefetching = setup(zero: 3)
        prefetching.overlapParameterGather = true
        XCTAssertEqual(DeepSpeedExport.config(prefetching).config["zero_optimization"]?["stage3_prefetch_bucket_size"], .number(50_000_000))
        // A meta plan with the parameters offloaded too writes DeepSpeed's offload_param.
        let plan = ParallelPlan(dp: 64, zero: 3, microBatch: 2, offload: true, offloadParameters: true)
        let model = GPTSpec(layers: 32, hidden: 4096, heads: 32, sequenceLength: 4096, vocabulary: 32000)
        let both = DeepSpeedExport.config(TrainingSetup(meta: plan, model: model, nodes: 8, gpusPerNode: 8, globalBatch: 512, flashAttention: true))
        XCTAssertEqual(both.config["zero_optimization"]?["offload_param"]?.compactText, #"{"device":"cpu","pin_memory":true}"#)
        XCTAssertEqual(both.lost, [])
    }

    func testAccelerateDistributedTypeFollowsThePlan() {
        var s = TrainingSetup(microBatch: 1)
        XCTAssertEqual(AccelerateExport.distributedType(s), .no)
        s.gpusPerNode = 8; s.dp = 8
        XCTAssertEqual(AccelerateExport.distributedType(s), .multiGPU)
        XCTAssertTrue(AccelerateExport.yaml(s, deepSpeedConfigPath: "ds.json").text.contains("distributed_type: MULTI_GPU\nmixed_precision: 'no'\n"))
        s.zeroStage = 1
        XCTAssertEqual(AccelerateExport.distributedType(s), .deepspeed)
        XCTAssertFalse(AccelerateExport.yaml(s, deepSpeedConfigPath: "ds.json").text.contains("mixed_precision"),
                       "Accelerate refuses mixed_precision beside a DeepSpeed config file")
        XCTAssertEqual(AccelerateExport.quoted("it's"), "'it''s'")
        XCTAssertEqual(AccelerateExport.quoted("/tmp/x y.json"), "'/tmp/x y.json'")
    }

    // MARK: - What is carried, and what is lost

    /// The 7B plan that motivated the lost-settings list: selective recomputation must reach the
    /// launch line, or the job needs several times the memory the plan was costed with.
    private func metaSetup(tp: Int = 1, pp: Int = 1, zero: Int = 1, checkpointing: ParallelPlan.Checkpointing = .selective,
                           precision: FloatFormat = .bf16) -> TrainingSetup {
        let plan = ParallelPlan(dp: 64 / (tp * pp), tp: tp, pp: pp, zero: zero, microBatch: 2, checkpointing: checkpointing,
                                sequenceParallel: tp > 1, precision: precision)
        let model = GPTSpec(layers: 32, hidden: 4096, heads: 32, sequenceLength: 4096, vocabulary: 32000)
        return TrainingSetup(meta: plan, model: model, nodes: 8, gpusPerNode: 8, globalBatch: 512, flashAttention: true)
    }

    func testAMegatronLaunchCarriesRecomputationParallelismAndKernels() {
        let s = metaSetup(tp: 2, pp: 2)
        let job = DeepSpeedExport.config(s)
        XCTAssertEqual(job.lost, [])
        XCTAssertNil(job.config["gradient_clipping"], "a meta trial does not model clipping: Megatron's --clip-grad decides")
        XCTAssertEqual(job.config["train_batch_size"]?.number, 512)
        XCTAssertEqual(Double(s.microBatch * s.accumulation * s.dp), 512, "DeepSpeed's batch identity at dp = world / (tp × pp)")
        let words = DeepSpeedExport.scriptArguments(s, configPath: "ds_config.json").joined(separator: " ")
        XCTAssertTrue(words.hasPrefix("pretrain_gpt.py --num-layers 32 --hidden-size 4096 --num-attention-heads 32 --seq-length 4096 --max-position-embeddings 4096 "), words)
        for flag in ["--micro-batch-size 2", "--global-batch-size 512", "--tensor-model-parallel-size 2", "--pipeline-model-parallel-size 2",
                     "--sequence-parallel", "--zero-stage 1", "--bf16", "--recompute-granularity selective", "--use-flash-attn-v2",
                     "--deepspeed --deepspeed_config ds_config.json"] {
            XCTAssertTrue(words.contains(flag), "\(flag) missing from \(words)")
        }
        XCTAssertFalse(words.contains("--no-pipeline-parallel"))
        let full = DeepSpeedExport.scriptArguments(metaSetup(tp: 2, checkpointing: .full), configPath: "c.json").joined(separator: " ")
        XCTAssertTrue(full.contains("--recompute-granularity full --recompute-method uniform --recompute-num-layers 1 --deepspeed-activation-checkpointing --partition-activations"), full)
        XCTAssertTrue(full.contains("--no-pipeline-parallel"))
        let fp8 = DeepSpeedExport.scriptArguments(metaSetup(precision: .fp8), configPath: "c.json").joined(separator: " ")
        XCTAssertTrue(fp8.contains("--bf16 --fp8-hybrid --transformer-impl transformer_engine"), fp8)
        XCTAssertEqual(DeepSpeedExport.config(metaSetup(precision: .fp8)).lost, [], "Transformer Engine carries FP8 on a Megatron launch")
    }

    /// Mixtral 8×7B's shape and experts reach Megatron-DeepSpeed's own flags; context parallelism,
    /// which its engine cannot run, is lost, not dropped.
    func testModelShapeAndExpertsReachTheMegatronLaunch() throws {
        let mixtral = try XCTUnwrap(ModelShapes.named("mixtral-8x7b"))
        let plan = ParallelPlan(dp: 8, tp: 8, zero: 1, microBatch: 1, sequenceParallel: true, ep: 8)
        let s = TrainingSetup(meta: plan, model: mixtral, nodes: 8, gpusPerNode: 8, globalBatch: 64, flashAttention: true)
        XCTAssertEqual(DeepSpeedExport.config(s).lost, [])
        let words = DeepSpeedExport.scriptArguments(s, configPath: "c.json").joined(separator: " ")
        for flag in ["--ffn-hidden-size 14336 --num-key-value-heads 8 --swiglu --normalization rmsnorm --use-rotary-position-embeddings "
                     + "--no-position-embedding --untie-embeddings-and-output-weights --disable-bias-linear --num-experts 8 --topk 2 "
                     + "--expert-interval 1 --moe-expert-parallel-size 8 --disable-moe-token-dropping"] {
            XCTAssertTrue(words.contains(flag), "\(flag) missing from \(words)")
        }
        var capped = mixtral
        capped.capacityFactor = 1.25
        let c = DeepSpeedExport.scriptArguments(TrainingSetup(meta: plan, model: capped, nodes: 8, gpusPerNode: 8, globalBatch: 64,
                                                              flashAttention: true), configPath: "c.json").joined(separator: " ")
        XCTAssertTrue(c.contains("--moe-train-capacity-factor 1.25"), c)
        XCTAssertFalse(c.contains("--disable-moe-token-dropping"), c)
        let ring = TrainingSetup(meta: ParallelPlan(dp: 4, tp: 8, microBatch: 1, cp: 2), model: mixtral, nodes: 8, gpusPerNode: 8,
                                 globalBatch: 64, flashAttention: true)
        let lost = DeepSpeedExport.config(ring).lost
        XCTAssertEqual(lost.count, 1)
        XCTAssertTrue(lost[0].hasPrefix("context parallelism (ring attention over 2 ranks)"), lost[0])
        // A GPT-2 shape adds none of the shape flags.
        XCTAssertFalse(DeepSpeedExport.scriptArguments(metaSetup(), configPath: "c.json").joined(separator: " ").contains("--swiglu"))
    }

    func testWhatDeepSpeedCannotRunIsListedNotDropped() {
        var s = setup(precision: .init(.tf32))
        s.checkpointing = .selective
        s.compression = [.prune(PruneStep(sparsity: 0.5)), .share(ShareStep(bits: 4))]
        let lost = DeepSpeedExport.config(s).lost
        XCTAssertEqual(lost.count, 4, lost.joined(separator: "\n"))
        XCTAssertTrue(lost[0].hasPrefix("TF32"))
        XCTAssertTrue(lost[1].hasPrefix("selective activation recomputation"))
        XCTAssertTrue(lost[2].hasPrefix("compression step 1, prune (50% of weights, magnitude)"), lost[2])
        XCTAssertTrue(lost[3].hasPrefix("compression step 2, share (weight sharing, 4-bit codebook)"), lost[3])

        var pipeline = metaSetup(pp: 4, zero: 2)
        pipeline.virtualStages = 2
        let piped = DeepSpeedExport.config(pipeline).lost
        XCTAssertEqual(piped.count, 2, piped.joined(separator: "\n"))
        XCTAssertTrue(piped[0].hasPrefix("ZeRO stage 2 with pipeline parallelism (pp 4)"))
        XCTAssertTrue(piped[1].hasPrefix("the interleaved 1F1B schedule (2 model chunks per device)"))
        var offloaded = setup(zero: 0, offload: true)
        offloaded.offloadOptimizer = true
        XCTAssertEqual(DeepSpeedExport.config(offloaded).lost.count, 1)
    }

    func testAccelerateChoosesMegatronDeepSpeedFSDPOrPlainDataParallelism() {
        let megatron = AccelerateExport.yaml(metaSetup(tp: 2, pp: 2), deepSpeedConfigPath: "ds.json")
        XCTAssertEqual(megatron.type, .megatron)
        for line in ["distributed_type: MEGATRON_LM", "mixed_precision: bf16", "  megatron_lm_tp_degree: 2", "  megatron_lm_pp_degree: 2",
                     "  megatron_lm_num_micro_batches: 16", "  megatron_lm_sequence_parallelism: true",
                     "  megatron_lm_recompute_activations: true", "  megatron_lm_recompute_granularity: selective",
                     "  megatron_lm_use_distributed_optimizer: true", "num_machines: 8", "num_processes: 64"] {
            XCTAssertTrue(megatron.text.contains(line + "\n"), "\(line) missing from\n\(megatron.text)")
        }
        XCTAssertEqual(megatron.lost, [])
        XCTAssertEqual(AccelerateExport.distributedType(metaSetup(checkpointing: .selective)), .megatron,
                       "selective recomputation is Megatron's, even without model parallelism")
        XCTAssertEqual(AccelerateExport.distributedType(metaSetup(checkpointing: .none)), .deepspeed)
        XCTAssertEqual(AccelerateExport.yaml(metaSetup(tp: 2, zero: 3), deepSpeedConfigPath: "d").lost.count, 1, "ZeRO-3 under Megatron")

        var zero3 = setup(zero: 3)
        zero3.checkpointing = .full
        let fsdp = AccelerateExport.yaml(zero3, stack: .fsdp, deepSpeedConfigPath: "ds.json")
        XCTAssertEqual(fsdp.type, .fsdp)
        for line in ["distributed_type: FSDP", "  fsdp_version: 2", "  fsdp_reshard_after_forward: true", "  fsdp_activation_checkpointing: true",
                     "num_processes: 4"] {
            XCTAssertTrue(fsdp.text.contains(line + "\n"), "\(line) missing from\n\(fsdp.text)")
        }
        XCTAssertTrue(AccelerateExport.yaml(setup(zero: 2), stack: .fsdp, deepSpeedConfigPath: "d").text.contains("  fsdp_reshard_after_forward: false\n"))
        XCTAssertEqual(AccelerateExport.yaml(setup(zero: 1), stack: .fsdp, deepSpeedConfigPath: "d").warnings.count, 1, "ZeRO-1 becomes SHARD_GRAD_OP, said")
        XCTAssertEqual(AccelerateExport.distributedType(setup(zero: 2)), .deepspeed)
        XCTAssertEqual(AccelerateExport.distributedType(setup(zero: 0)), .multiGPU)
        var fixed = setup(precision: .init(.fp16, lossScaling: LossScaling(scale: 128)))
        fixed.compression = [.lowRank(LowRankStep(choice: .rank(4)))]
        XCTAssertEqual(AccelerateExport.yaml(fixed, deepSpeedConfigPath: "d").lost.count, 2, "a fixed loss scale and a compression step")
    }
}
