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
            let (config, warnings) = DeepSpeedExport.config(setup(schedule: schedule, totalSteps: total))
            return (config["scheduler"]?.compactText, warnings)
        }
        XCTAssertEqual(scheduler(LearningRateSchedule()).0, nil)
        XCTAssertEqual(scheduler(LearningRateSchedule(warmupSteps: 20)).0,
                       #"{"type":"WarmupLR","params":{"warmup_min_lr":0,"warmup_max_lr":0.01,"warmup_num_steps":20,"warmup_type":"linear"}}"#)
        XCTAssertEqual(scheduler(LearningRateSchedule(.cosine(minimum: 0.001))).0,
                       #"{"type":"WarmupCosineLR","params":{"total_num_steps":100,"warmup_min_ratio":1,"warmup_num_steps":1,"cos_min_ratio":0.1,"warmup_type":"linear"}}"#)
        let step = scheduler(LearningRateSchedule(.step(stepSize: 10, gamma: 0.5), warmupSteps: 3))
        XCTAssertEqual(step.0, #"{"type":"WarmupLR","params":{"warmup_min_lr":0,"warmup_max_lr":0.01,"warmup_num_steps":3,"warmup_type":"linear"}}"#)
        XCTAssertEqual(step.1, ["DeepSpeed has no step-decay scheduler: multiply the learning rate by 0.5 every 10 steps in the training script (ds_config keeps the 3-step warmup)"])
        let unknown = scheduler(LearningRateSchedule(.cosine(minimum: 0)), total: nil)
        XCTAssertEqual(unknown.0, nil)
        XCTAssertEqual(unknown.1.count, 1)
    }

    func testPrecisionSections() {
        func sections(_ p: MixedPrecision) -> (fp16: String?, bf16: String?, warnings: [String]) {
            let (config, warnings) = DeepSpeedExport.config(setup(precision: p))
            return (config["fp16"]?.compactText, config["bf16"]?.compactText, warnings)
        }
        XCTAssertEqual(sections(.init(.fp16, lossScaling: LossScaling(scale: 128))).fp16,
                       #"{"enabled":true,"loss_scale":128,"initial_scale_power":16,"loss_scale_window":1000,"hysteresis":2,"min_loss_scale":1}"#)
        XCTAssertEqual(sections(.init(.fp16)).fp16?.contains(#""loss_scale":1,"#), true, "no scaling is a fixed scale of 1")
        XCTAssertEqual(sections(.init(.bf16)).bf16, #"{"enabled":true}"#)
        XCTAssertEqual(sections(.init(.fp8)).bf16, #"{"enabled":true}"#)
        XCTAssertEqual(sections(.init(.fp8)).warnings.count, 1)
        let fp32 = sections(.init(.fp32))
        XCTAssertNil(fp32.fp16); XCTAssertNil(fp32.bf16); XCTAssertEqual(fp32.warnings, [])
    }

    func testZeROStagesAndOffload() {
        func zero(_ stage: Int, offload: Bool = false) -> String? { DeepSpeedExport.config(setup(zero: stage, offload: offload)).config["zero_optimization"]?.compactText }
        XCTAssertEqual(zero(0), #"{"stage":0}"#)
        XCTAssertEqual(zero(3, offload: true), #"{"stage":3,"overlap_comm":true,"contiguous_gradients":true,"reduce_scatter":true,"#
                       + #""reduce_bucket_size":500000000,"offload_optimizer":{"device":"cpu","pin_memory":true},"#
                       + #""stage3_gather_16bit_weights_on_model_save":true}"#)
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
}
