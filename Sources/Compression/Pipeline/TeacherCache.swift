import Engine
import Foundation

/// Trained teachers by the hash of what defines them (architecture, training, data, seed): a
/// study whose candidates share a teacher trains it once. Kept in memory, and on disk as raw
/// FP32 weights and batch-norm statistics when a directory is given, so other worker processes
/// and later runs reuse it too.
public final class TeacherCache {
    public let directory: String?
    private var models: [String: Model] = [:]

    public init(directory: String? = nil) { self.directory = directory }

    /// The teacher for `spec` on `data`, trained now unless cached.
    public func teacher(_ spec: TeacherSpec, student: Candidate, splits: DataConfig.Splits,
                        progress: ((String) -> Void)? = nil) throws -> Model {
        let training = spec.training ?? student.training
        let candidate = Candidate(architecture: spec.architecture, training: training, data: student.data)
        let key = try Self.key(candidate)
        if let m = models[key] { return m }
        let train = splits.train
        let model = try Model(spec: spec.architecture, inputShape: train.sampleShape, classes: train.classCount,
                              context: ExecutionContext(), seed: training.seed)
        if let path = path(key), let state = FileManager.default.contents(atPath: path), restore(model, from: state) {
            progress?("teacher \(key) read from the cache")
        } else {
            let trainer = Trainer(candidate: candidate)
            trainer.loadData = { _, _ in splits }
            _ = try trainer.run(model: model, progress: { e in progress?("teacher epoch \(e.epoch): loss \(e.trainLoss)") })
            if let path = path(key) {
                try? FileManager.default.createDirectory(atPath: directory!, withIntermediateDirectories: true)
                let tmp = path + ".\(getpid()).tmp"
                if FileManager.default.createFile(atPath: tmp, contents: state(of: model)) {
                    _ = rename(tmp, path)
                }
            }
        }
        models[key] = model
        return model
    }

    /// FNV-1a of the candidate's canonical JSON, in hex.
    static func key(_ candidate: Candidate) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in try encoder.encode(candidate) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    private func path(_ key: String) -> String? { directory.map { "\($0)/teacher-\(key).f32" } }

    /// The model's state as little-endian FP32.
    private func state(of model: Model) -> Data {
        ModelState.tensors(model).reduce(into: Data()) { data, t in data.append(UnsafeBufferPointer(start: t.data, count: t.count)) }
    }

    private func restore(_ model: Model, from data: Data) -> Bool {
        guard data.count % 4 == 0 else { return false }
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return ModelState.restore(model, from: values)
    }
}
