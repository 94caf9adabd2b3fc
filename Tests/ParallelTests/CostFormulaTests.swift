import XCTest
import Engine
import Hardware
@testable import Parallel

/// The cost model's formulas against worked examples from their sources.
final class CostFormulaTests: XCTestCase {
    /// DeepSpeed's "Memory Requirements" page prints, for t5-small (60,506,624 parameters, its
    /// largest layer the 32,128 × 512 shared embedding = 16,449,536) on 1 node with 1 GPU, ZeRO-3
    /// GPU memory of 0.06 GB with parameters and optimizer offloaded (4L), 0.17 with the optimizer
    /// only (4L + 2Ψ) and 1.08 with nothing offloaded (4L + 18Ψ) (GiB, two decimals).
    func testZeRO3ModelStatesMatchDeepSpeedsPublishedExample() {
        let psi = 60_506_624.0, largest = 16_449_536.0
        func gib(_ offload: StateOffload) -> Double {
            let b = ModelStateMemory(parameterCount: psi, largestLayerParameters: largest, zero: 3, dataParallel: 1, offload: offload).total
            return (b / 1_073_741_824 * 100).rounded() / 100
        }
        XCTAssertEqual(gib(.optimizerAndParameters), 0.06)
        XCTAssertEqual(gib(.optimizer), 0.17)
        XCTAssertEqual(gib(.none), 1.08)
    }

    /// nccl-tests' bus-bandwidth factors (PERFORMANCE.md): all-reduce 2(n − 1)/n, reduce-scatter
    /// and all-gather (n − 1)/n, broadcast 1.
    func testBusBandwidthFactors() {
        XCTAssertEqual(CollectiveCost.busBandwidthFactor(.allReduce, ranks: 8), 1.75)
        XCTAssertEqual(CollectiveCost.busBandwidthFactor(.reduceScatter, ranks: 8), 0.875)
        XCTAssertEqual(CollectiveCost.busBandwidthFactor(.allGather, ranks: 4), 0.75)
        XCTAssertEqual(CollectiveCost.busBandwidthFactor(.broadcast, ranks: 16), 1)
        XCTAssertEqual(CollectiveCost.busBandwidthFactor(.allReduce, ranks: 1), 0)
    }

    /// A 1 GB all-reduce over the 8 GPUs of a node at 300 GB/s × 0.8: 1e9/240e9 · 1.75 + 14 · 3 µs;
    /// the same over 16 GPUs on two nodes runs at the 25 GB/s InfiniBand link.
    func testAllReduceTimeOverTheLinkTheGroupSpans() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 2)
        let cost = CollectiveCost(cluster: cluster)
        let inNode = CollectiveEvent(name: "g", kind: .allReduce, phase: .backward, group: RankGroup(name: "dp", size: 8, stride: 1), bytes: 1e9)
        XCTAssertEqual(cost.seconds(inNode), 1e9 / 240e9 * 1.75 + 14 * 3e-6, accuracy: 1e-9)
        XCTAssertFalse(cluster.spansNodes(inNode.group))
        let across = CollectiveEvent(name: "g", kind: .allReduce, phase: .backward, group: RankGroup(name: "dp", size: 16, stride: 1), bytes: 1e9)
        XCTAssertTrue(cluster.spansNodes(across.group))
        XCTAssertEqual(cost.seconds(across), 1e9 / 20e9 * 2 * 15 / 16 + 30 * 5e-6, accuracy: 1e-9)
        // Two ranks 8 apart (data parallel over tp = 8) sit on different nodes.
        XCTAssertTrue(cluster.spansNodes(RankGroup(name: "dp", size: 2, stride: 8)))
        XCTAssertEqual(CollectiveCost.bytesSent(inNode), 1.75e9)
    }

    /// Roofline: a GEMM of 2·4096³ FLOPs in bf16 is compute-bound at 312 TFLOP/s × 0.6; a copy of
    /// 1 GB is memory-bound at 2039 GB/s × 0.8; both pay the 5 µs launch.
    func testRoofline() {
        let r = Roofline(profile: dgxA100)
        let n = 4096.0
        let gemm = OpEvent(name: "mm", kind: .matmul, phase: .forward, dtype: .bf16, flops: 2 * n * n * n,
                           bytesRead: 2 * n * n * 2, bytesWritten: n * n * 2)
        XCTAssertEqual(r.seconds(gemm), 2 * n * n * n / (312e12 * 0.6) + 5e-6, accuracy: 1e-12)
        let copy = OpEvent(name: "copy", kind: .copy, phase: .forward, dtype: .fp32, flops: 0, bytesRead: 5e8, bytesWritten: 5e8)
        XCTAssertEqual(r.seconds(copy), 1e9 / (2039e9 * 0.8) + 5e-6, accuracy: 1e-12)
        // No FP8 units on an A100: FP8 work runs at the FP16 rate.
        XCTAssertEqual(dgxA100.peakFLOPS(.fp8), 312e12)
        XCTAssertEqual(dgxA100.executedDType(.int4), .int8)
    }

    /// The pipeline bubble is (p − 1)/m of the compute (GPipe and 1F1B, Narayanan et al. 2021).
    func testPipelineBubbleFraction() throws {
        let model = GPTSpec(layers: 32, hidden: 1024, heads: 16, sequenceLength: 512, vocabulary: 1024)
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        for (pp, batch) in [(2, 16), (4, 32), (8, 64)] {
            let plan = ParallelPlan(dp: 8 / pp, tp: 1, pp: pp, microBatch: 1)
            let e = try TrainingJob(model: model, globalBatch: batch, cluster: cluster, plan: plan).estimate()
            let m = Double(e.microBatches)
            let slot = e.time.compute / m + (e.time.tensorCommunication + e.time.pipelineCommunication) / m
            XCTAssertEqual(e.time.bubble, Double(pp - 1) * slot, accuracy: 1e-9 * slot)
            XCTAssertEqual(e.time.bubble / (e.time.compute + e.time.pipelineCommunication), Double(pp - 1) / m, accuracy: 1e-9)
        }
    }

    /// Tensor parallelism splits every layer's matmuls t ways and adds four all-reduces per layer;
    /// ZeRO stage 3 moves 1.5× the data of stage 1.
    func testTensorParallelAndZeROShares() throws {
        let model = GPTSpec(layers: 4, hidden: 2048, heads: 16, sequenceLength: 256, vocabulary: 4096)
        let cluster = try Cluster(profile: dgxA100, nodes: 1)
        let one = try TrainingJob(model: model, globalBatch: 8, cluster: cluster, plan: ParallelPlan(dp: 8)).estimate()
        let tp8 = try TrainingJob(model: model, globalBatch: 8, cluster: cluster, plan: ParallelPlan(dp: 1, tp: 8)).estimate()
        XCTAssertGreaterThan(tp8.time.tensorCommunication, 0)
        XCTAssertEqual(one.time.tensorCommunication, 0)
        XCTAssertLessThan(tp8.parametersPerDevice, one.parametersPerDevice / 6)
        let z1 = try TrainingJob(model: model, globalBatch: 8, cluster: cluster, plan: ParallelPlan(dp: 8, zero: 1)).estimate()
        let z3 = try TrainingJob(model: model, globalBatch: 8, cluster: cluster, plan: ParallelPlan(dp: 8, zero: 3)).estimate()
        // One micro-batch per rank: stage 3 runs an extra all-gather, (2 AG + RS) / (AG + RS) = 1.5.
        XCTAssertEqual(z3.time.dataCommunication / z1.time.dataCommunication, 1.5, accuracy: 0.02)
        XCTAssertEqual(z3.memory.parameters, z1.memory.parameters / 8, accuracy: 1)
    }

    /// A plan that does not fit says so, with the sizes.
    func testInfeasibleWhenOutOfMemory() throws {
        let cluster = try Cluster(profile: dgxA100, nodes: 1, devicesPerNode: 1)
        let e = try TrainingJob(model: gpt3, globalBatch: 1, cluster: cluster, plan: ParallelPlan()).estimate()
        XCTAssertNotNil(e.infeasible)
        XCTAssertTrue(e.infeasible!.hasPrefix("needs "), e.infeasible!)
        XCTAssertTrue(e.infeasible!.hasSuffix("test-A100 has 80 GiB"), e.infeasible!)
    }
}
