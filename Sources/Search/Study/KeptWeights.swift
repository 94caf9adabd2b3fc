import Compression
import Foundation

/// The trained weights a study keeps: one `TrainedModelFile` per Pareto-front member, named
/// `trial-<N>.weights`, in the `weights/` folder of the study's folder beside its store
/// (`results/<study>/weights/`), at most `limit` bytes in all.
///
/// A file is written while its trial is still RUNNING, under a temporary name
/// (`trial-<N>.weights.<pid>.<random>.tmp`) renamed into place when complete, so a worker killed
/// mid-write never leaves a file under the kept name; a temporary file whose trial is no longer
/// RUNNING belongs to such a worker and is deleted by the next `prune`. Several worker processes
/// may share the folder: each file has one writer (its trial's worker), and pruning only ever
/// deletes files of finished trials.
///
/// The bound: when the files of the front are more than `limit` bytes together, the smallest
/// files that fit are kept (ties to the smaller trial number) and the others deleted — the most
/// front members for the space, and the small models a deployment usually wants; the members
/// left out are retrained when exported.
///
///     let kept = KeptWeights(folder: "results/q/weights", limit: 256 << 20)
///     try kept.write(bytes, trial: 12)
///     kept.prune(front: [3, 12], finished: [0, 1, 2, 3, 12])
public struct KeptWeights: Equatable, Sendable {
    public let folder: String
    /// Bytes of kept files at most.
    public let limit: Int

    public init(folder: String, limit: Int) { self.folder = folder; self.limit = limit }

    /// The kept file of trial `number`.
    public func path(of number: Int) -> String {
        (folder as NSString).appendingPathComponent("trial-\(number).\(TrainedModelFile.fileExtension)")
    }

    /// Write trial `number`'s file: to a temporary name, then renamed over the kept one.
    /// - Returns: false when the file alone is larger than `limit` (nothing is written).
    @discardableResult
    public func write(_ bytes: [UInt8], trial number: Int) throws -> Bool {
        guard bytes.count <= limit else { return false }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = path(of: number) + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path(of: number)) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(atPath: temporary)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        return true
    }

    /// The bytes of trial `number`'s file, nil when there is none.
    public func read(trial number: Int) -> [UInt8]? {
        FileManager.default.contents(atPath: path(of: number)).map { [UInt8]($0) }
    }

    /// Delete the files of `finished` trials that are not in `front`, then the largest of the
    /// front's files until the rest fit in `limit`, and temporary files of finished trials.
    /// Only the trials `finished` names are judged: a trial still running, or one another worker
    /// claimed and finished after the caller read the trials (its file is newer than the caller's
    /// view of the front), is left alone. Files deleted meanwhile by another worker are no error.
    /// - Returns: the trial numbers whose kept file was deleted, ascending.
    @discardableResult
    public func prune(front: Set<Int>, finished: Set<Int>) -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var deleted: [Int] = []
        var kept: [(number: Int, bytes: Int)] = []
        func remove(_ name: String) -> Bool {
            (try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))) != nil
        }
        for name in names {
            guard let (number, temporary) = Self.trialFile(name), finished.contains(number) else { continue }
            if temporary {
                _ = remove(name)
            } else if !front.contains(number) {
                if remove(name) { deleted.append(number) }
            } else {
                let size = (try? FileManager.default.attributesOfItem(atPath: path(of: number))[.size] as? NSNumber)?.intValue ?? 0
                kept.append((number, size))
            }
        }
        var total = 0
        for file in kept.sorted(by: { ($0.bytes, $0.number) < ($1.bytes, $1.number) }) {
            if total + file.bytes <= limit {
                total += file.bytes
            } else if remove("trial-\(file.number).\(TrainedModelFile.fileExtension)") {
                deleted.append(file.number)
            }
        }
        return deleted.sorted()
    }

    /// The trial a file of the folder belongs to, and whether it is a temporary one; nil for
    /// any other file.
    static func trialFile(_ name: String) -> (number: Int, temporary: Bool)? {
        let stem = "trial-", suffix = "." + TrainedModelFile.fileExtension
        guard name.hasPrefix(stem), let end = name.range(of: suffix) else { return nil }
        guard let number = Int(name[name.index(name.startIndex, offsetBy: stem.count)..<end.lowerBound]), number >= 0 else { return nil }
        let rest = name[end.upperBound...]
        if rest.isEmpty { return (number, false) }
        return rest.hasPrefix(".") && rest.hasSuffix(".tmp") ? (number, true) : nil
    }
}
