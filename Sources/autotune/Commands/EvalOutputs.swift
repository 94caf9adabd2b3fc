import Compression
import Engine
import Foundation
import Report

/// What `autotune eval` writes besides its report: the final model as ONNX, its predicted class
/// for every test sample, and the test inputs those predictions are for — together, what an
/// outside runtime needs to check that it computes what the engine computes.
struct EvalOutputs {
    var onnx: String?
    var predictions: String?
    var testInputs: String?

    /// Test samples per forward when predicting. A dynamically quantized model's input scale is
    /// its batch's, so a checker must run the same batches: consecutive runs of this many samples.
    static let predictionBatch = 256

    /// The test split the run loaded, kept when its loader hands it to the trainer.
    final class TestSet {
        private(set) var test: Dataset?

        var loader: (DataConfig, UInt64) throws -> DataConfig.Splits {
            { [self] config, seed in
                let splits = try config.load(seed: seed)
                test = splits.test
                return splits
            }
        }
    }

    /// Throws a usage error (exit 2) for a path that names a directory or lies in a missing one,
    /// before any training.
    func validate() throws {
        for (option, path) in [("--onnx", onnx), ("--predictions", predictions), ("--test-inputs", testInputs)] {
            guard let path else { continue }
            try requireWritableOutput(path, for: option)
            var isDirectory: ObjCBool = false
            if path.isEmpty || path.hasSuffix("/") || FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue {
                throw CLIError.invalidValue(name: option, value: path, reason: "must name a file, not a directory")
            }
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError.invalidValue(name: option, value: path, reason: "directory '\(parent)' does not exist")
            }
        }
    }

    /// Write every output asked for. `precision` is the run's: a 16-bit model whose activations
    /// the engine still rounds is exported with that rounding.
    func write(_ model: Model, test: Dataset?, rounding precision: FloatFormat) throws {
        if let onnx {
            let rounding = model.context.boundaryObserver == nil ? FloatFormat.fp32 : precision
            try Self.write(Data(try ONNXExporter.export(model, activationRounding: rounding)), to: onnx)
        }
        guard predictions != nil || testInputs != nil else { return }
        guard let test else { throw CLIError.runtime("the run loaded no test set to predict") }
        if let predictions {
            let classes = Self.predictedClasses(model, test)
            try Self.write(Data(classes.map { "\($0)\n" }.joined().utf8), to: predictions)
        }
        if let testInputs {
            try Self.write(Data(npyFloat32(test.features, shape: [test.count] + test.sampleShape)), to: testInputs)
        }
    }

    /// The arg-max of the logits of every test sample (of every position, for a language model),
    /// the first one on ties.
    static func predictedClasses(_ model: Model, _ test: Dataset) -> [Int] {
        var classes: [Int] = []
        model.forEachBatch(of: test, batchSize: predictionBatch) { x, _ in
            let logits = model.forward(x, training: false)
            let width = logits.shape.last ?? 1, p = logits.data
            for row in 0..<(logits.count / width) {
                var best = 0
                for c in 1..<max(width, 1) where p[row * width + c] > p[row * width + best] { best = c }
                classes.append(best)
            }
        }
        return classes
    }

    /// Write `data` to `path`; a failure is a runtime error (exit 1) with the system's reason.
    private static func write(_ data: Data, to path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw CLIError.runtime("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let failure = written == data.count ? nil : String(cString: strerror(errno))
        guard fclose(file) == 0, failure == nil else {
            throw CLIError.runtime("cannot write '\(path)': \(failure ?? String(cString: strerror(errno)))")
        }
    }
}
