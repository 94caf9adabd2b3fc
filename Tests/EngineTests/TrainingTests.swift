import XCTest
@testable import Engine

final class TrainingTests: XCTestCase {
    private func candidate(_ spec: ArchitectureSpec, data: DataConfig, epochs: Int = 4, lr: Float = 0.01,
                           seed: UInt64 = 1, threads: Int = 1, accumulation: Int = 1, batch: Int = 32) -> Candidate {
        Candidate(architecture: spec,
                  training: TrainingConfig(optimizer: OptimizerConfig(.adam, learningRate: lr), batchSize: batch, epochs: epochs,
                                           accumulation: accumulation, seed: seed, threads: threads),
                  data: data)
    }

    /// Two interleaved spiral arms (noise 0.1): not linearly separable, learnable by a small MLP.
    private let spirals = DataConfig(dataset: .spirals, samples: 600, classes: 2)

    func testSmallMLPLearnsSpiralsFarAboveChance() throws {
        let report = try Trainer(candidate: candidate(.mlp(MLPSpec(widths: [64, 64])), data: spirals, epochs: 30)).run()
        XCTAssertEqual(report.status, .completed)
        XCTAssertGreaterThan(report.testAccuracy, 0.85, "chance is 1/2")
        XCTAssertLessThan(report.epochs.last!.trainLoss, report.epochs.first!.trainLoss)
        XCTAssertEqual(report.epochs.count, 30)
        XCTAssertGreaterThan(report.peakBytes, Double(report.parameters) * 4 * 4, "values, grads and two Adam moments")
    }

    func testSmallCNNAndGPTTrainAboveChance() throws {
        let blobs = DataConfig(dataset: .blobs, samples: 400, classes: 4)
        var mlp = try Trainer(candidate: candidate(.mlp(MLPSpec(widths: [16])), data: blobs, epochs: 3)).run()
        XCTAssertGreaterThan(mlp.testAccuracy, 0.6)
        var markov = DataConfig(dataset: .markov, samples: 300)
        markov.sequenceLength = 8; markov.vocabulary = 8
        let gpt = GPTSpec(layers: 1, hidden: 16, heads: 2, sequenceLength: 8, vocabulary: 8, mlpRatio: 2)
        mlp = try Trainer(candidate: candidate(.gpt(gpt), data: markov, epochs: 6, lr: 0.01)).run()
        XCTAssertGreaterThan(mlp.testAccuracy, 0.25, "next-token accuracy; chance is 1/8")
    }

    func testSameSeedAndThreadsGiveBitIdenticalResults() throws {
        let spec = ArchitectureSpec.mlp(MLPSpec(widths: [32], dropout: 0.1))
        let a = try Trainer(candidate: candidate(spec, data: spirals, epochs: 2, threads: 2)).run()
        let b = try Trainer(candidate: candidate(spec, data: spirals, epochs: 2, threads: 2)).run()
        XCTAssertEqual(a.epochs.map(\.trainLoss), b.epochs.map(\.trainLoss))
        XCTAssertEqual(a.testLoss, b.testLoss)
        let c = try Trainer(candidate: candidate(spec, data: spirals, epochs: 2, seed: 2, threads: 2)).run()
        XCTAssertNotEqual(a.epochs.map(\.trainLoss), c.epochs.map(\.trainLoss))
    }

    func testWeightsAreBitIdenticalAfterSteps() throws {
        func weights(_ seed: UInt64) throws -> [Float] {
            EngineThreads.set(2)
            let ctx = ExecutionContext()
            let model = try Model(spec: .cnn(CNNSpec(stages: [CNNStage(channels: 4, batchnorm: true, pool: .max)], head: [8])),
                                  inputShape: [8, 8, 1], classes: 3, context: ctx, seed: seed)
            let data = Synthetic.blobs(count: 64, classes: 3, dimensions: 64, seed: 5)
            let opt = AdamW()
            let x = Tensor(shape: [16, 8, 8, 1], context: ctx)
            var labels = [Int32](repeating: 0, count: 16)
            for step in 0..<4 {
                labels.withUnsafeMutableBufferPointer { data.gather(Array(step * 16..<(step + 1) * 16)[...], features: x.data, labels: $0.baseAddress!) }
                model.store.zeroGradients()
                _ = labels.withUnsafeBufferPointer { model.accumulateGradients(x, labels: $0.baseAddress!) }
                opt.step(model.store, learningRate: 0.01)
            }
            return model.store.values.array
        }
        XCTAssertEqual(try weights(9), try weights(9))
    }

    func testGradientAccumulationMatchesOneLargeBatch() throws {
        let spec = ArchitectureSpec.mlp(MLPSpec(widths: [8]))
        var data = spirals
        data.samples = 160
        data.validationFraction = 0
        // 128 training samples: one batch of 128 against 4 accumulated micro-batches of 32, SGD.
        func run(batch: Int, accumulation: Int) throws -> TrainingReport {
            var c = candidate(spec, data: data, epochs: 1, batch: batch)
            c.training.accumulation = accumulation
            c.training.optimizer = OptimizerConfig(.sgd, learningRate: 0.1)
            return try Trainer(candidate: c).run()
        }
        let big = try run(batch: 128, accumulation: 1), small = try run(batch: 32, accumulation: 4)
        XCTAssertEqual(big.steps, 1)
        XCTAssertEqual(small.steps, 1)
        XCTAssertEqual(big.testLoss, small.testLoss, accuracy: 1e-5)
    }

    func testDivergingRunEndsWithStatusNotACrash() throws {
        var c = candidate(.mlp(MLPSpec(widths: [64, 64])), data: spirals, epochs: 3, lr: 1e6)
        c.training.optimizer = OptimizerConfig(.sgd, learningRate: 1e6)
        let report = try Trainer(candidate: c).run()
        XCTAssertEqual(report.status, .diverged)
    }

    func testArchitectureThatDoesNotFitTheDataFailsBeforeTraining() {
        XCTAssertThrowsError(try Trainer(candidate: candidate(.vit(ViTSpec(patch: 4, dim: 8, depth: 1, heads: 2)), data: spirals)).run()) {
            XCTAssertEqual("\($0)", "architecture.family: vit needs image input [H, W, C], the data has samples of shape [2]")
        }
    }

    func testCandidateFileErrorsNameFileAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-cand-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func reason(_ text: String) -> String {
            let path = dir.appendingPathComponent("c.json").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            do { _ = try Candidate.load(path: path); return "" } catch { return "\(error)".replacingOccurrences(of: path, with: "c.json") }
        }
        let arch = #""architecture": {"family": "mlp", "widths": [8]}"#
        let data = #""data": {"dataset": "spirals"}"#
        XCTAssertEqual(reason("{\(arch), \(data), \"training\": {\"optimizer\": {\"name\": \"adam\", \"lr\": -1}}}"),
                       "c.json: training.optimizer.lr: must be positive, got -1")
        XCTAssertEqual(reason("{\(arch), \(data), \"training\": {\"optimizer\": {\"name\": \"adam\"}, \"batch_size\": 0}}"),
                       "c.json: training.batch_size: must be ≥ 1, got 0")
        XCTAssertEqual(reason("{\(arch), \"data\": {\"dataset\": \"mnist\"}, \"training\": {\"optimizer\": {\"name\": \"adam\"}}}"),
                       "c.json: data.dataset: unknown value 'mnist' (valid: fashion-mnist, csv, blobs, spirals, markov)")
        XCTAssertTrue(reason("{\(arch), \"data\": {\"dataset\": \"spiral\"}, \"training\": {\"optimizer\": {\"name\": \"adam\"}}}")
                      .hasSuffix("Did you mean 'spirals'?"))
        XCTAssertEqual(reason("{\(arch), \(data)}"), "c.json: training: missing required key")
        XCTAssertEqual(reason("[]"), "c.json: top level: expected an object but found an array instead")
        XCTAssertThrowsError(try Candidate.load(path: dir.appendingPathComponent("none.json").path)) {
            XCTAssertTrue("\($0)".hasSuffix("none.json: no such file"))
        }
    }
}

/// Candidate and recipe files are read as strictly as space files.
final class StrictConfigFileTests: XCTestCase {
    func testDuplicateKeysAndTrailingCommasAreErrorsWithTheirPlace() {
        func reason(_ text: String) -> String {
            do {
                _ = try decodeJSONConfig(DataConfig.self, from: Data(text.utf8), file: "c.json")
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(reason(#"{"dataset": "blobs", "dataset": "spirals"}"#),
                       #"c.json: line 1, column 22: malformed JSON (duplicate key "dataset")"#, "the first would have won, silently")
        XCTAssertEqual(reason("{\"dataset\": \"blobs\",\n}"), "c.json: line 2, column 1: malformed JSON (expected a key in quotes)")
        XCTAssertEqual(reason(#"{"dataset": "blobs", "samples": [1, 2,]}"#).prefix(29), "c.json: line 1, column 39: ma")
        XCTAssertEqual(reason(#"{"dataset": "blobs"}"#), "decoded")
    }
}
