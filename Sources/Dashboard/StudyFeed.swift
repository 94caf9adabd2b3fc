import Foundation
import Store

/// What the dashboard keeps of one study between requests, topped up from the store by finish
/// cursor, so that a poll costs what changed since the last poll, whoever made it, and not the
/// study's size:
/// - the number of finished trials in each state and the latest finish (for `/api/studies`);
/// - once someone asks for the study's trials, each finished trial as a JSON object, in finish
///   order (for `/api/studies/NAME/trials?since=`), and the whole list in number order, built
///   once per change.
///
/// A finished trial keeps its state; should the store give a trial a new finish sequence, the
/// newer entry replaces the older one.
final class StudyFeed {
    let record: StudyRecord

    private var countsCursor: Int64?
    private var states: [Int: TrialState] = [:]
    private(set) var finishedCounts: [TrialState: Int] = [:]
    private(set) var lastFinished: Date?

    private var trialsCursor: Int64?
    /// A finished trial: its object is `chunks[chunk][range]`.
    private struct Entry {
        var number: Int
        var sequence: Int64
        var chunk: Int
        var range: Range<Int>
    }
    /// The JSON of each top-up, in one buffer each.
    private var chunks: [[UInt8]] = []
    /// Finished trials in finish-sequence order.
    private var entries: [Entry] = []
    private var known: Set<Int> = []
    /// Every entry in number order as one JSON array, until the next change.
    private var everything: Data?

    init(record: StudyRecord) { self.record = record }

    /// Counts by state (every state listed, RUNNING as it is now) and the latest activity.
    func summary(_ storage: StudyStorage) throws -> (counts: [TrialState: Int], lastActivity: Date?) {
        let activity = try update(storage)
        var counts = Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0, finishedCounts[$0] ?? 0) })
        counts[.running] = activity.running
        let last = [lastFinished, activity.lastHeartbeat].compactMap { $0 }.max()
        return (counts, last)
    }

    /// The largest finish sequence of the study's trials now (nil before any finished).
    func cursor(_ storage: StudyStorage) throws -> Int64? {
        _ = try update(storage)
        return countsCursor
    }

    private func update(_ storage: StudyStorage) throws -> StudyActivity {
        let activity = try storage.activity(study: record.id, finishedAfter: countsCursor)
        for trial in activity.finished {
            if let old = states[trial.number] { finishedCounts[old, default: 0] -= 1 }
            states[trial.number] = trial.state
            finishedCounts[trial.state, default: 0] += 1
            if let finished = trial.finished { lastFinished = max(lastFinished ?? finished, finished) }
            countsCursor = max(countsCursor ?? trial.sequence, trial.sequence)
        }
        return activity
    }

    /// The finished trials after cursor `since` (all without it) in number order, as one JSON
    /// array, and the cursor to ask from next.
    func trials(since: Int64?, storage: StudyStorage) throws -> (json: Data, cursor: Int64) {
        try topUp(storage)
        let start = since.map { s in partitionPoint { $0.sequence > s } } ?? 0
        if start == 0 {
            if everything == nil { everything = joined(entries.sorted { $0.number < $1.number }) }
            return (everything!, max(trialsCursor ?? 0, since ?? 0))
        }
        let chosen = entries[start...].sorted { $0.number < $1.number }
        return (joined(chosen), chosen.map(\.sequence).max() ?? since ?? 0)
    }

    private func topUp(_ storage: StudyStorage) throws {
        let objects: TrialObjects
        if let sqlite = storage as? SQLiteStorage {
            objects = try sqlite.finishedTrialObjects(study: record.id, finishedAfter: trialsCursor)
        } else {
            var made = TrialObjects(bytes: [], trials: [])
            for t in try storage.trials(study: record.id, finishedAfter: trialsCursor) where t.state.isFinished {
                guard let sequence = t.finishSequence else { continue }
                var out = ""
                DashboardAPI.write(t, into: &out)
                made.trials.append((t.number, sequence, made.bytes.count ..< made.bytes.count + out.utf8.count))
                made.bytes.append(contentsOf: out.utf8)
            }
            objects = made
        }
        guard !objects.trials.isEmpty else { return }
        let chunk = chunks.count
        chunks.append(objects.bytes)
        let new = objects.trials.sorted { $0.sequence < $1.sequence }
        if new.contains(where: { known.contains($0.number) }) {
            let renewed = Set(new.map(\.number))
            entries.removeAll { renewed.contains($0.number) }
        }
        for trial in new {
            entries.append(Entry(number: trial.number, sequence: trial.sequence, chunk: chunk, range: trial.range))
            known.insert(trial.number)
        }
        trialsCursor = entries.last?.sequence
        everything = nil
    }

    /// The first index of `entries` whose element satisfies `isAfter` (entries are in sequence
    /// order, so the predicate is false then true).
    private func partitionPoint(_ isAfter: (Entry) -> Bool) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if isAfter(entries[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// `trials` as one JSON array, copied once into a buffer of the right size.
    private func joined<C: Collection>(_ trials: C) -> Data where C.Element == Entry {
        let size = trials.reduce(2) { $0 + $1.range.count } + max(0, trials.count - 1)
        var json = Data(count: size)
        json.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) in
            var at = 0
            func put(_ byte: UInt8) { out[at] = byte; at += 1 }
            put(UInt8(ascii: "["))
            for (i, trial) in trials.enumerated() {
                if i > 0 { put(UInt8(ascii: ",")) }
                chunks[trial.chunk].withUnsafeBytes { bytes in
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[trial.range])
                    out.baseAddress!.advanced(by: at).copyMemory(from: slice.baseAddress!, byteCount: slice.count)
                    at += slice.count
                }
            }
            put(UInt8(ascii: "]"))
        }
        return json
    }
}
