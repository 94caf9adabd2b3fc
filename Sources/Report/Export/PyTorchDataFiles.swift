import Compression
import Engine
import Foundation

/// The data of an engine trial as NumPy files for the exported training script: exactly the
/// splits the engine trained, validated and tested on — the same data set, subset, validation
/// split and normalisation, all drawn from the trial's seed by `DataConfig.load(seed:)`.
///
/// Each split is two files, `<split>_x.npy` and `<split>_y.npy`:
/// - images as float32 (samples, channels, height, width) — NCHW, PyTorch's layout (the engine
///   holds them NHWC);
/// - tabular features as float32 (samples, features);
/// - token sequences as int32 (samples, T) ids, with int32 (samples, T) next-token labels;
/// - class labels as int32 (samples,).
/// Features are already standardised with the training split's per-channel mean and deviation.
struct PyTorchData {
    var splits: DataConfig.Splits
    /// Whether the features are token ids (a GPT on sequences) rather than values.
    var tokens: Bool

    /// The trial's splits, loaded as its training run loaded them.
    /// - Throws: `ReportError` when the data cannot be read (a missing Fashion-MNIST or CSV file).
    static func load(_ recipe: Recipe) throws -> PyTorchData {
        let c = recipe.candidate
        do {
            let splits = try c.data.load(seed: c.training.seed)
            if case .gpt = c.architecture { return PyTorchData(splits: splits, tokens: true) }
            return PyTorchData(splits: splits, tokens: false)
        } catch let e as ReportError {
            throw e
        } catch {
            throw ReportError("cannot load the trial's data to write beside the script: \(error)")
        }
    }

    /// The named splits in the order the script reads them.
    var named: [(name: String, data: Dataset)] {
        [("train", splits.train)] + (splits.validation.map { [("validation", $0)] } ?? []) + [("test", splits.test)]
    }

    /// `train_x.npy`, `train_y.npy`, ... in `directory`.
    func files(in directory: String) -> [ExportFile] {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        return named.flatMap { name, data in
            [ExportFile(path: path(name + "_x.npy"), binary: Data(features(data))),
             ExportFile(path: path(name + "_y.npy"), binary: Data(labels(data)))]
        }
    }

    private func features(_ d: Dataset) -> [UInt8] {
        if tokens { return npyInt32(d.features.map { Int32($0) }, shape: [d.count] + d.sampleShape) }
        guard d.sampleShape.count == 3 else { return npyFloat32(d.features, shape: [d.count] + d.sampleShape) }
        let (h, w, c) = (d.sampleShape[0], d.sampleShape[1], d.sampleShape[2])
        var nchw = [Float](repeating: 0, count: d.features.count)
        d.features.withUnsafeBufferPointer { src in
            for n in 0..<d.count {
                let base = n * h * w * c
                for y in 0..<h {
                    for x in 0..<w {
                        for k in 0..<c { nchw[base + (k * h + y) * w + x] = src[base + (y * w + x) * c + k] }
                    }
                }
            }
        }
        return npyFloat32(nchw, shape: [d.count, c, h, w])
    }

    private func labels(_ d: Dataset) -> [UInt8] {
        npyInt32(d.labels, shape: d.labelsPerSample == 1 ? [d.count] : [d.count, d.labelsPerSample])
    }

    /// One line per file for README.txt: "train_x.npy  float32 (4500, 1, 28, 28)", as NumPy prints shapes.
    var listing: [String] {
        named.flatMap { name, d -> [String] in
            let x = tokens ? [d.count] + d.sampleShape
                : d.sampleShape.count == 3 ? [d.count, d.sampleShape[2], d.sampleShape[0], d.sampleShape[1]] : [d.count] + d.sampleShape
            let y = d.labelsPerSample == 1 ? [d.count] : [d.count, d.labelsPerSample]
            return ["  \(name)_x.npy  \(tokens ? "int32" : "float32") \(tuple(x))",
                    "  \(name)_y.npy  int32 \(tuple(y))"]
        }
    }

    private func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The script's loader: every split as (features, labels) tensors, features float32 (or int64
    /// token ids), labels int64.
    var loaderSource: String {
        """
        def load_split(name):
            \"\"\"The (features, labels) of one split, from the .npy files beside this script.\"\"\"
            x = torch.from_numpy(np.load(os.path.join(HERE, f"{name}_x.npy")))
            y = torch.from_numpy(np.load(os.path.join(HERE, f"{name}_y.npy"))).long()
            return (x.long() if x.dtype == torch.int32 else x), y
        """
    }
}
