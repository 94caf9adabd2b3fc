import XCTest
import Engine
import Hardware
@testable import Parallel

/// Simulated ranks: collectives move the right numbers and count the bytes the ring formulas
/// predict; every parallel plan trains to the weights of one rank, holds the model states ZeRO's
/// table predicts and sends what the cost model says it sends.
final class SimulatedRanksTests: XCTestCase {
    // MARK: Collectives

    func testAllReduceSumsInRankOrderAndSendsTheRingVolume() {
        let n = 4, count = 10
        let comm = Communicator(size: n, group: "data")
        let contexts = (0 ..< n).map { _ in ExecutionContext() }
        let results = comm.run(contexts) { rank -> [Float] in
            var values = (0 ..< count).map { Float(rank.index * 100 + $0) }
            values.withUnsafeMutableBufferPointer { rank.allReduce($0.baseAddress!, count: count, .sum, name: "g") }
            return values
        }
        let expected = (0 ..< count).map { i in Float((0 ..< n).reduce(0) { $0 + $1 * 100 + i }) }
        for r in 0 ..< n { XCTAssertEqual(results[r], expected, "rank \(r)") }
        // In the reduce-scatter a rank sends every other rank that rank's chunk (count − own
        // chunk floats); in the all-gather it sends its own reduced chunk to each of the n − 1
        // others. With 10 = 3 + 3 + 2 + 2: rank 0 sends 7 + 9 floats, rank 3 sends 8 + 6.
        XCTAssertEqual(comm.bytesSent(by: 0), 4 * 16)
        XCTAssertEqual(comm.bytesSent(by: 3), 4 * 14)
        let event = contexts[0].collectives[0]
        XCTAssertEqual(event.kind, .allReduce)
        XCTAssertEqual(event.bytes, 40)
        XCTAssertEqual(event.group, RankGroup(name: "data", size: 4, stride: 1))
    }

    func testDivisibleBuffersSendExactlyTheBusBandwidthVolume() {
        let n = 4, count = 64
        let comm = Communicator(size: n)
        let contexts = (0 ..< n).map { _ in ExecutionContext() }
        _ = comm.run(contexts) { rank -> Int in
            var values = [Float](repeating: Float(rank.index), count: count)
            values.withUnsafeMutableBufferPointer { p in
                rank.reduceScatter(inPlace: p.baseAddress!, count: count, .mean, name: "rs")
                rank.allGather(inPlace: p.baseAddress!, count: count, name: "ag")
                rank.allReduce(p.baseAddress!, count: count, name: "ar")
            }
            return 0
        }
        let predicted = StepCollectives.bytesSent(contexts[1].collectives)
        XCTAssertEqual(predicted, 256 * (0.75 + 0.75 + 1.5))
        for r in 0 ..< n { XCTAssertEqual(comm.bytesSent(by: r), predicted, "rank \(r)") }
    }

    func testReduceScatterAndAllGatherInPlaceOverUnevenChunks() {
        let n = 3, count = 8   // chunks 3, 3, 2
        let comm = Communicator(size: n)
        let results = comm.run((0 ..< n).map { _ in ExecutionContext() }) { rank -> [Float] in
            var v = (0 ..< count).map { Float($0 + 1) * Float(rank.index + 1) }
            v.withUnsafeMutableBufferPointer { p in
                rank.reduceScatter(inPlace: p.baseAddress!, count: count, .mean, name: "rs")
                rank.allGather(inPlace: p.baseAddress!, count: count, name: "ag")
            }
            return v
        }
        let mean = (0 ..< count).map { Float($0 + 1) * 2 }   // (1 + 2 + 3) / 3 = 2
        for r in 0 ..< n { XCTAssertEqual(results[r], mean) }
        XCTAssertEqual(comm.chunk(2, of: count), 6 ..< 8)
    }

    func testSendAndReceiveCarryShapeAndTag() {
        let comm = Communicator(size: 2, group: "pipeline")
        let contexts = [ExecutionContext(), ExecutionContext()]
        let shapes = comm.run(contexts) { rank -> [Int] in
            if rank.index == 0 {
                rank.send(Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], context: rank.context), to: 1, tag: 7, name: "act")
                return []
            }
            let t = rank.receive(from: 0, tag: 7)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: t.data, count: 6)), [1, 2, 3, 4, 5, 6])
            return t.shape
        }
        XCTAssertEqual(shapes[1], [2, 3])
        XCTAssertEqual(comm.bytesSent(from: 0, to: 1), 24)
        XCTAssertEqual(contexts[0].collectives.map(\.kind), [.sendRecv])
        XCTAssertTrue(contexts[1].collectives.isEmpty, "a transfer is recorded once, on the sender")
    }

    // MARK: Schedules

    func testPipelineSchedules() {
        typealias S = ParallelPlan.PipelineSchedule
        XCTAssertEqual(S.oneForwardOneBackward.operations(stage: 0, stages: 2, microBatches: 3),
                       [.forward(0), .forward(1), .backward(0), .forward(2), .backward(1), .backward(2)])
        XCTAssertEqual(S.oneForwardOneBackward.operations(stage: 1, stages: 2, microBatches: 3),
                       [.forward(0), .backward(0), .forward(1), .backward(1), .forward(2), .backward(2)])
        XCTAssertEqual(S.gpipe.operations(stage: 1, stages: 4, microBatches: 2), [.forward(0), .forward(1), .backward(0), .backward(1)])
        for p in 1 ... 4 {
            for s in 0 ..< p {
                for m in 1 ... 6 {
                    XCTAssertEqual(S.gpipe.microBatchesInFlight(stage: s, stages: p, microBatches: m), m)
                    XCTAssertEqual(S.oneForwardOneBackward.microBatchesInFlight(stage: s, stages: p, microBatches: m), min(p - s, m))
                }
            }
        }
    }

    // MARK: Plans against one rank

    let mlp = ArchitectureSpec.mlp(MLPSpec(widths: [24, 16], activation: .tanh))
    lazy var blobs = Synthetic.blobs(count: 256, classes: 4, dimensions: 12, seed: 3)

    /// Train `plan` and one rank on the same batches; compare weights and the cost model's figures.
    @discardableResult
    func check(_ plan: ParallelPlan, spec: ArchitectureSpec? = nil, inputShape: [Int] = [12], classes: Int = 4,
               data: Dataset? = nil, steps: Int = 3, tolerance: Float = 2e-5, adam: AdamSettings = AdamSettings(),
               file: StaticString = #filePath, line: UInt = #line) throws -> SimulatedTrainingResult {
        let sim = try SimulatedTraining(spec: spec ?? mlp, inputShape: inputShape, classes: classes, seed: 11, plan: plan, adam: adam)
        let data = data ?? blobs
        let run = try sim.train(on: data, steps: steps)
        let reference = try sim.singleRank(on: data, steps: steps)
        XCTAssertEqual(run.weights.count, reference.weights.count, file: file, line: line)
        let worst = zip(run.weights, reference.weights).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
        XCTAssertLessThan(worst, tolerance, "largest weight difference against one rank", file: file, line: line)
        for (a, b) in zip(run.losses, reference.losses) { XCTAssertEqual(a, b, accuracy: 1e-4, file: file, line: line) }
        XCTAssertNotEqual(reference.weights, try sim.singleRank(on: data, steps: 0).weights, "training moved the weights", file: file, line: line)

        // Bytes sent, counted by the communicators, equal the cost model's prediction. When the
        // shards are uneven a rank sends a few elements more or fewer than (n − 1)/n of a buffer,
        // but the ranks together send exactly what the model says.
        let measured = run.ranks.map(\.bytesSent).reduce(0, +)
        let predictedBytes = run.ranks.map { StepCollectives.bytesSent($0.predictedCollectives) }.reduce(0, +)
        XCTAssertEqual(measured, predictedBytes, accuracy: 1e-6, "bytes over all ranks", file: file, line: line)
        for r in run.ranks {
            if r.storeCount % plan.dp == 0 {
                XCTAssertEqual(r.bytesSent, StepCollectives.bytesSent(r.predictedCollectives), accuracy: 1e-9,
                               "rank \(r.rank) bytes", file: file, line: line)
            }
            // The recorded collectives are the predicted ones.
            XCTAssertEqual(totals(r.collectives), totals(r.predictedCollectives), "rank \(r.rank) collectives", file: file, line: line)
            // Model states held: ZeRO's table in FP32 (4-byte weights and gradients, K = 8).
            let predicted = ModelStateMemory(parameterCount: Double(r.storeCount), zero: plan.zero, dataParallel: plan.dp,
                                             weightBytes: 4, gradientBytes: 4, optimizerBytes: 8)
            if r.storeCount % plan.dp == 0 {
                XCTAssertEqual(r.held, predicted, "rank \(r.rank) model states", file: file, line: line)
            }
        }
        return run
    }

    /// Σ count by (name, kind, payload), so per-call records compare with per-step predictions.
    func totals(_ events: [CollectiveEvent]) -> [String: Double] {
        events.reduce(into: [:]) { $0["\($1.name) \($1.kind.rawValue) \($1.bytes)", default: 0] += $1.count }
    }

    func testDataParallelAndEveryZeROStageTrainLikeOneRank() throws {
        for zero in 0 ... 3 {
            let run = try check(ParallelPlan(dp: 2, zero: zero, microBatch: 8, gradientAccumulation: 2, precision: .fp32))
            let r = run.ranks[0]
            XCTAssertEqual(r.workingBytes, Double(r.storeCount) * 4 * Double((zero >= 2 ? 1 : 0) + (zero >= 3 ? 1 : 0)), "zero \(zero)")
        }
    }

    func testZeROOverThreeRanksWithUnevenShards() throws {
        let run = try check(ParallelPlan(dp: 3, zero: 3, microBatch: 4, gradientAccumulation: 1, precision: .fp32))
        XCTAssertEqual(run.ranks.map { $0.held.optimizerStates }.reduce(0, +), 8 * Double(run.ranks[0].storeCount))
    }

    func testPipelineSchedulesTrainLikeOneRank() throws {
        let spec = ArchitectureSpec.mlp(MLPSpec(widths: [24, 20, 16], activation: .relu))
        for schedule in ParallelPlan.PipelineSchedule.allCases {
            let plan = ParallelPlan(pp: 3, microBatch: 4, gradientAccumulation: 4, precision: .fp32, schedule: schedule)
            let run = try check(plan, spec: spec)
            for r in run.ranks {
                XCTAssertEqual(r.peakStashed, schedule.microBatchesInFlight(stage: r.stage, stages: 3, microBatches: 4),
                               "\(schedule) stage \(r.stage)")
            }
            // Under 1F1B the last stage runs each backward right after its forward and never
            // recomputes; under GPipe every stage but for the last micro-batch does.
            if schedule == .gpipe {
                XCTAssertGreaterThan(run.ranks[2].recomputeFLOPs, 0)
            } else {
                XCTAssertEqual(run.ranks[2].recomputeFLOPs, 0)
            }
        }
    }

    func testDataAndPipelineParallelWithZeROOne() throws {
        try check(ParallelPlan(dp: 2, pp: 2, zero: 1, microBatch: 4, gradientAccumulation: 3, precision: .fp32))
    }

    func testFullCheckpointingRecomputesEveryForwardOnce() throws {
        let plan = ParallelPlan(microBatch: 8, gradientAccumulation: 2, checkpointing: .full, precision: .fp32)
        let run = try check(plan)
        let forward = try Model.forwardFLOPsPerSample(spec: mlp, inputShape: [12], classes: 4)
        // 3 steps × 2 micro-batches × 8 samples, each forward once more.
        XCTAssertEqual(run.ranks[0].recomputeFLOPs, 3 * 16 * forward, accuracy: 1)
    }

    func testGPTOverTwoStagesSumsTheTiedEmbeddingBetweenFirstAndLast() throws {
        let gpt = ArchitectureSpec.gpt(GPTSpec(layers: 2, hidden: 16, heads: 2, sequenceLength: 8, vocabulary: 12))
        let data = Synthetic.markovSequences(count: 64, length: 8, vocabulary: 12, seed: 5)
        let run = try check(ParallelPlan(dp: 2, pp: 2, zero: 1, microBatch: 2, gradientAccumulation: 2, precision: .fp32,
                                         schedule: .oneForwardOneBackward),
                            spec: gpt, inputShape: [8], classes: 12, data: data, tolerance: 5e-4)
        for r in run.ranks {
            XCTAssertEqual(r.collectives.filter { $0.name == "embedding" }.count, 3, "one per step on both ends")
            XCTAssertEqual(r.collectives.first { $0.name == "embedding" }?.bytes, 12 * 16 * 4)
        }
    }

    // MARK: Tensor parallelism

    let gpt = ArchitectureSpec.gpt(GPTSpec(layers: 2, hidden: 16, heads: 4, sequenceLength: 8, vocabulary: 12))
    lazy var markov = Synthetic.markovSequences(count: 96, length: 8, vocabulary: 12, seed: 5)

    /// Adam divides by √v: a gradient element near zero whose last bits differ between two sums
    /// moves its weight by up to the learning rate either way (one rank against itself with
    /// accumulation differs by 1e-3 after 3 steps at ε = 1e-8). ε = 1e-3 damps that, so the
    /// comparison checks the plan to 1e-5, not the optimizer's sensitivity to rounding.
    static let dampedAdam = AdamSettings(epsilon: 1e-3)

    @discardableResult
    func checkGPT(_ plan: ParallelPlan, file: StaticString = #filePath, line: UInt = #line) throws -> SimulatedTrainingResult {
        try check(plan, spec: gpt, inputShape: [8], classes: 12, data: markov, tolerance: 1e-5, adam: Self.dampedAdam, file: file, line: line)
    }

    func testTensorParallelSplitsHeadsAndMLPColumns() throws {
        for tp in [2, 4] {
            let run = try checkGPT(ParallelPlan(tp: tp, microBatch: 2, gradientAccumulation: 2, precision: .fp32))
            // Per step: 2 blocks × 2 micro-batches × 2 all-reduces of (2, 8, 16) floats each way.
            let forward = run.ranks[0].collectives.filter { $0.name == "tensor.activations" }
            XCTAssertEqual(forward.count, 3 * 2 * 2 * 2, "tp \(tp)")
            XCTAssertEqual(forward.first?.bytes, 2 * 8 * 16 * 4)
            XCTAssertEqual(run.ranks[0].collectives.filter { $0.name == "tensor.activation_gradients" }.count, 3 * 2 * 2 * 2)
            // Per block 1/tp of QKV (768 + 48), W_o (256) and the MLP (1024 + 64 + 1024); the norms
            // (64) whole; the two row-split biases (16 + 16) on rank 0. Token and position tables
            // (192 + 128) and the final norm (32) whole; the head is tied to the token table.
            let expected = (0 ..< tp).map { t in 2 * (3184 / tp + 64 + (t == 0 ? 32 : 0)) + 352 }
            XCTAssertEqual(run.ranks.map(\.parameterCount), expected, "tp \(tp)")
        }
    }

    func testTensorDataAndEveryZeROStage() throws {
        for zero in 0 ... 3 {
            try checkGPT(ParallelPlan(dp: 2, tp: 2, zero: zero, microBatch: 2, gradientAccumulation: 2, precision: .fp32))
        }
    }

    func testTensorAndPipelineParallelUnderBothSchedulesAndFullRecomputation() throws {
        for schedule in ParallelPlan.PipelineSchedule.allCases {
            let run = try checkGPT(ParallelPlan(tp: 2, pp: 2, microBatch: 2, gradientAccumulation: 3, precision: .fp32, schedule: schedule))
            XCTAssertEqual(run.ranks.map(\.tensorRank), [0, 1, 0, 1])
            XCTAssertEqual(run.ranks.map(\.stage), [0, 0, 1, 1])
        }
        // Full recomputation reruns each block's forward, with its two all-reduces, once per micro-batch.
        let run = try checkGPT(ParallelPlan(dp: 2, tp: 2, zero: 1, microBatch: 2, gradientAccumulation: 2,
                                            checkpointing: .full, precision: .fp32))
        XCTAssertEqual(run.ranks[0].collectives.filter { $0.name == "tensor.activations" }.count, 3 * 2 * 2 * 2 * 2)
    }

    func testTensorParallelVisionTransformer() throws {
        let vit = ArchitectureSpec.vit(ViTSpec(patch: 2, dim: 8, depth: 1, heads: 2, mlpRatio: 2))
        var images = Synthetic.blobs(count: 64, classes: 3, dimensions: 16, seed: 9)
        images.sampleShape = [4, 4, 1]
        try check(ParallelPlan(tp: 2, microBatch: 4, gradientAccumulation: 1, precision: .fp32),
                  spec: vit, inputShape: [4, 4, 1], classes: 3, data: images, tolerance: 1e-5, adam: Self.dampedAdam)
    }

    func testRematerializedForwards() {
        // A stage's layers keep only the last forward, and a backward releases it: GPipe over 3
        // micro-batches (F0 F1 F2 B0 B1 B2) reruns all three forwards.
        XCTAssertEqual(ParallelPlan.PipelineSchedule.gpipe.rematerializedForwards(stage: 0, stages: 2, microBatches: 3), 3)
        // 1F1B: the last stage runs each backward right after its forward.
        XCTAssertEqual(ParallelPlan.PipelineSchedule.oneForwardOneBackward.rematerializedForwards(stage: 1, stages: 2, microBatches: 3), 0)
        // Stage 0 of 2 runs F0 F1 B0 F2 B1 B2: no backward follows its own forward.
        XCTAssertEqual(ParallelPlan.PipelineSchedule.oneForwardOneBackward.rematerializedForwards(stage: 0, stages: 2, microBatches: 3), 3)
        XCTAssertEqual(ParallelPlan.PipelineSchedule.oneForwardOneBackward.rematerializedForwards(stage: 0, stages: 1, microBatches: 3), 0)
    }

    // MARK: Plans the ranks refuse

    func testPlansTheRanksCannotRun() {
        func reason(_ plan: ParallelPlan, _ spec: ArchitectureSpec? = nil) -> String {
            do {
                _ = try SimulatedTraining(spec: spec ?? mlp, inputShape: spec == nil ? [12] : [8], classes: spec == nil ? 4 : 12,
                                          seed: 1, plan: plan)
                return "accepted"
            } catch { return "\(error)" }
        }
        func expect(_ reason: String, _ prefix: String, line: UInt = #line) {
            XCTAssertTrue(reason.hasPrefix(prefix), reason, line: line)
        }
        expect(reason(ParallelPlan(tp: 2)), "tp: tensor parallelism splits transformer blocks (gpt, vit); this mlp has none")
        expect(reason(ParallelPlan(tp: 3), gpt), "tp: 3 must divide the 4 heads and the MLP width 64")
        expect(reason(ParallelPlan(pp: 2, zero: 2)), "zero: ZeRO stage 2 shards gradients")
        expect(reason(ParallelPlan(pp: 9)), "pp: 9 pipeline stages for a network of 6 layers")
        expect(reason(ParallelPlan(checkpointing: .selective)), "checkpointing: ")
        expect(reason(ParallelPlan(), .mlp(MLPSpec(widths: [8], dropout: 0.1))), "architecture: dropout")
    }
}
