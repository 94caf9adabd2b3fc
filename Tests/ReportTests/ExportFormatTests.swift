import Compression
import Engine
import Foundation
import Search
import XCTest
@testable import Report

/// The formats of a fixed engine trial and a fixed meta trial against golden text, and every
/// generated ds_config against the DeepSpeed schema.
final class ExportFormatTests: XCTestCase {
    func testEngineRecipeIsTheCandidateTheEngineTrainsAndDecodesAsARecipe() throws {
        let picked = try ExportFixtures.engineTrial()
        let output = try Exporter.export(picked, as: .recipe, to: "out/recipe.json")
        XCTAssertEqual(output.files.map(\.path), ["out/recipe.json"])
        XCTAssertEqual(output.files[0].text, """
        {
          "architecture": {
            "family": "mlp",
            "widths": [32]
          },
          "training": {
            "optimizer": {
              "name": "adamw",
              "lr": 0.001,
              "weight_decay": 0.01
            },
            "schedule": {
              "name": "cosine",
              "warmup_steps": 10,
              "min_lr": 0.0001
            },
            "batch_size": 32,
            "accumulation": 2,
            "grad_clip": 1,
            "epochs": 2,
            "seed": 3
          },
          "precision": {
            "dtype": "fp16",
            "loss_scale": 0
          },
          "data": {
            "dataset": "blobs",
            "samples": 500,
            "classes": 3
          }
        }

        """)
        XCTAssertEqual(output.commands, ["autotune eval out/recipe.json"])
        let recipe = try decodeJSONConfig(Recipe.self, from: Data(output.files[0].text.utf8), file: "recipe.json")
        XCTAssertNoThrow(try recipe.validate())
        XCTAssertEqual(recipe.candidate.training.seed, 3)
        XCTAssertEqual(recipe.candidate.training.batchSize, 32)
        XCTAssertEqual(recipe.precision.format, .fp16)
        XCTAssertEqual(recipe.precision.lossScale, 0)
        XCTAssertEqual(recipe.candidate.data.samples, 500)
    }

    func testEngineDeepSpeedConfig() throws {
        let output = try Exporter.export(try ExportFixtures.engineTrial(), as: .deepspeed, to: "out/ds_config.json")
        XCTAssertEqual(output.files.map(\.path), ["out/ds_config.json", "out/launch.sh"])
        // 500 blobs less the 100 test samples, less 40 for validation: 360 → 12 batches of 32 →
        // 6 steps of 2 accumulated micro-batches per epoch → 12 steps in 2 epochs.
        XCTAssertEqual(output.files[0].text, """
        {
          "train_batch_size": 64,
          "train_micro_batch_size_per_gpu": 32,
          "gradient_accumulation_steps": 2,
          "optimizer": {
            "type": "AdamW",
            "params": {
              "lr": 0.001,
              "betas": [0.9, 0.999],
              "eps": 1e-08,
              "weight_decay": 0.01
            }
          },
          "scheduler": {
            "type": "WarmupCosineLR",
            "params": {
              "total_num_steps": 12,
              "warmup_min_ratio": 0,
              "warmup_num_steps": 10,
              "cos_min_ratio": 0.1,
              "warmup_type": "linear"
            }
          },
          "fp16": {
            "enabled": true,
            "loss_scale": 0,
            "initial_scale_power": 16,
            "loss_scale_window": 1000,
            "hysteresis": 2,
            "min_loss_scale": 1
          },
          "zero_optimization": {
            "stage": 0
          },
          "gradient_clipping": 1
        }

        """)
        XCTAssertEqual(output.warnings, [])
        XCTAssertEqual(output.commands, [
            "deepspeed --num_nodes 1 --num_gpus 1 train.py --deepspeed --deepspeed_config out/ds_config.json",
            "torchrun --standalone --nproc_per_node 1 train.py --deepspeed --deepspeed_config out/ds_config.json",
        ])
        XCTAssertTrue(output.files[1].text.hasPrefix("#!/bin/sh\n"), output.files[1].text)
        XCTAssertTrue(output.files[1].text.contains("\n" + output.commands[0] + " \"$@\"\n"), output.files[1].text)
        XCTAssertTrue(output.files[1].text.contains("\n# " + output.commands[1] + " \"$@\"\n"), output.files[1].text)
    }

    func testEngineAccelerateConfigRunsOnOneDeviceWithTheTrialsPrecision() throws {
        let output = try Exporter.export(try ExportFixtures.engineTrial(), as: .accelerate, to: "accelerate.yaml")
        XCTAssertEqual(output.files.map(\.path), ["accelerate.yaml"])
        XCTAssertEqual(output.files[0].text, """
        compute_environment: LOCAL_MACHINE
        distributed_type: 'NO'
        mixed_precision: fp16
        machine_rank: 0
        num_machines: 1
        num_processes: 1
        rdzv_backend: static
        same_network: true
        main_training_function: main
        use_cpu: false

        """)
        XCTAssertEqual(output.commands, ["accelerate launch --config_file accelerate.yaml train.py"])
    }

    func testMetaDeepSpeedConfig() throws {
        let output = try Exporter.export(try ExportFixtures.metaTrial(), as: .deepspeed, to: "ds_config.json")
        // 16 devices / tp 2 = dp 8; 512 / (8 × 4) = 16 micro-batches per step.
        XCTAssertEqual(output.files[0].text, """
        {
          "train_batch_size": 512,
          "train_micro_batch_size_per_gpu": 4,
          "gradient_accumulation_steps": 16,
          "fp16": {
            "enabled": true,
            "loss_scale": 0,
            "initial_scale_power": 16,
            "loss_scale_window": 1000,
            "hysteresis": 2,
            "min_loss_scale": 1
          },
          "zero_optimization": {
            "stage": 2,
            "overlap_comm": false,
            "contiguous_gradients": true,
            "reduce_scatter": true,
            "reduce_bucket_size": 500000000,
            "allgather_bucket_size": 500000000,
            "offload_optimizer": {
              "device": "cpu",
              "pin_memory": true
            }
          },
          "activation_checkpointing": {
            "partition_activations": true,
            "cpu_checkpointing": false,
            "contiguous_memory_optimization": false,
            "number_checkpoints": 24,
            "synchronize_checkpoint_boundary": false,
            "profile": false
          }
        }

        """)
        // The plan does not overlap its gradient reduction (overlap_comm false) and leaves clipping
        // to Megatron; Megatron-DeepSpeed's flags carry the model, the layout and the recomputation.
        XCTAssertEqual(output.commands[0], "deepspeed --hostfile hostfile --num_nodes 2 --num_gpus 8 pretrain_gpt.py --num-layers 24 --hidden-size 2048 "
                       + "--num-attention-heads 16 --seq-length 2048 --max-position-embeddings 2048 --micro-batch-size 4 --global-batch-size 512 "
                       + "--tensor-model-parallel-size 2 --pipeline-model-parallel-size 1 --no-pipeline-parallel --zero-stage 2 --cpu-optimizer --fp16 "
                       + "--recompute-granularity full --recompute-method uniform --recompute-num-layers 1 --deepspeed-activation-checkpointing "
                       + "--partition-activations --use-flash-attn-v2 --deepspeed --deepspeed_config ds_config.json")
        XCTAssertEqual(output.lost, [])
        XCTAssertTrue(output.commands[1].hasPrefix("torchrun --nnodes 2 --nproc_per_node 8 --node_rank \"$NODE_RANK\""), output.commands[1])
    }

    func testMetaAccelerateConfigOfATensorParallelPlanIsMegatron() throws {
        let output = try Exporter.export(try ExportFixtures.metaTrial(), as: .accelerate, to: "results/llm/accelerate.yaml")
        // tp 2: DeepSpeed under Accelerate cannot split a layer, Megatron can; ZeRO 2 with offload
        // is Megatron's distributed optimizer with its states on the CPU.
        XCTAssertEqual(output.files.map(\.path), ["results/llm/accelerate.yaml"])
        XCTAssertEqual(output.files[0].text, """
        compute_environment: LOCAL_MACHINE
        distributed_type: MEGATRON_LM
        mixed_precision: fp16
        megatron_lm_config:
          megatron_lm_tp_degree: 2
          megatron_lm_pp_degree: 1
          megatron_lm_num_micro_batches: 16
          megatron_lm_sequence_parallelism: false
          megatron_lm_recompute_activations: false
          megatron_lm_recompute_granularity: full
          megatron_lm_recompute_method: uniform
          megatron_lm_recompute_num_layers: 1
          megatron_lm_use_distributed_optimizer: true
          megatron_lm_optimizer_cpu_offload: true
          megatron_lm_attention_backend: true
        machine_rank: 0
        num_machines: 2
        num_processes: 16
        main_process_ip: null
        main_process_port: 29500
        rdzv_backend: static
        same_network: true
        main_training_function: main
        use_cpu: false

        """)
        XCTAssertEqual(output.lost, [])
    }

    func testMetaRecipeHoldsModelClusterAndTheWholePlanAndItsEstimateCommand() throws {
        let output = try Exporter.export(try ExportFixtures.metaTrial(), as: .recipe, to: "recipe.json")
        let recipe = try JSONValue(parsing: output.files[0].text)
        XCTAssertEqual(recipe["architecture"]?["layers"], .number(24))
        XCTAssertEqual(recipe["cluster"], .object([("hardware", .string("A100-SXM-80GB")), ("nodes", .number(2)), ("gpus_per_node", .number(8))]))
        XCTAssertEqual(recipe["global_batch"], .number(512))
        XCTAssertEqual(recipe["parallelism"]?.compactText,
                       #"{"dp":8,"tp":2,"pp":1,"zero":2,"micro_batch":4,"grad_accum":16,"checkpointing":"full","sequence_parallel":false,"offload":true,"schedule":"1f1b"}"#)
        XCTAssertEqual(recipe["precision"], .string("fp16"))
        XCTAssertEqual(output.commands, ["autotune estimate recipe.json --hardware A100-SXM-80GB --nodes 2 --gpus-per-node 8 --global-batch 512 "
                                         + "--dp 8 --tp 2 --pp 1 --zero 2 --micro-batch 4 --grad-accum 16 --checkpointing full --schedule 1f1b --offload --precision fp16"])
    }

    func testOnnxNeedsAnEngineTrial() throws {
        let meta = try ExportFixtures.metaTrial()
        XCTAssertThrowsError(try Exporter.export(meta, as: .onnx, to: "model.onnx")) { error in
            XCTAssertEqual("\(error)", "onnx export needs a model the engine trained: trial \(meta.trial.number) of study '\(meta.study.name)' comes from a meta evaluator")
        }
    }

    func testFormatNamesParseAndUnknownOnesSuggest() throws {
        XCTAssertEqual(try ExportFormat.named("DeepSpeed"), .deepspeed)
        XCTAssertEqual(try ExportFormat.named("onnx"), .onnx)
        XCTAssertThrowsError(try ExportFormat.named("acelerate")) { error in
            XCTAssertEqual("\(error)", "unknown export format 'acelerate' (formats: deepspeed, accelerate, recipe, onnx, pytorch). Did you mean 'accelerate'?")
        }
    }
}
