import Foundation

/// A study's finished trials as one JSON array, built straight from the rows: what a dashboard
/// serves for a study of 100,000 trials without making a `TrialRecord` of each.
extension SQLiteStorage {
    /// The finished trials of `study` (all, or those finished after cursor `finishedAfter`), in
    /// number order, as a JSON array of
    /// `{"number", "state", "parameters": {name: value}, "metrics": {name: value}, "violation",
    /// "curve": [[step, {name: value}], ...], "message", "notes": [note, ...], "seq"}` (`curve`,
    /// `message` and `notes` only when there are some; a note is written by `JSONBytes.notes`), and
    /// the largest finish sequence among them (the next cursor).
    /// Numbers JSON cannot hold (NaN, infinities) are written as null.
    public func finishedTrialsJSON(study: Int64, finishedAfter: Int64?) throws -> (json: Data, cursor: Int64?) {
        let objects = try finishedTrialObjects(study: study, finishedAfter: finishedAfter)
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(objects.bytes.count + objects.trials.count + 2)
        for (i, trial) in objects.trials.enumerated() {
            if i > 0 { json.append(UInt8(ascii: ",")) }
            json.append(contentsOf: objects.bytes[trial.range])
        }
        json.append(UInt8(ascii: "]"))
        return (Data(json), objects.trials.map(\.sequence).max())
    }

    /// The same trials as `finishedTrialsJSON`, in number order, each as its own JSON object in
    /// one buffer: what a live view keeps and tops up by cursor.
    public func finishedTrialObjects(study: Int64, finishedAfter: Int64?) throws -> TrialObjects {
        try locked {
            try db.transaction(immediate: false) {
                let condition: String, child: String, values: [any SQLiteBindable]
                if let sequence = finishedAfter {
                    condition = "INDEXED BY trials_by_finish WHERE study_id = ?1 AND finish_seq > ?2"
                    child = "AND number IN (SELECT number FROM trials WHERE study_id = ?1 AND finish_seq > ?2)"
                    values = [study, sequence]
                } else {
                    (condition, child, values) = ("WHERE study_id = ?1 AND finish_seq IS NOT NULL", "", [study])
                }
                // Each trial's parameters, metrics and curve as JSON object bodies in one buffer,
                // found by trial number (every query goes in number order).
                var parts: [UInt8] = []
                var parameters = RangesByNumber(), metrics = RangesByNumber(), curves = RangesByNumber()
                func collect(_ sql: String, into ranges: inout RangesByNumber, write: (SQLiteRow, inout [UInt8]) -> Void) throws {
                    var current: Int?, start = 0
                    try db.query(sql, values) { row in
                        let number = row.int(0)
                        if number != current {
                            if let c = current { ranges.append(c, start ..< parts.count) }
                            current = number; start = parts.count
                        } else {
                            parts.append(UInt8(ascii: ","))
                        }
                        write(row, &parts)
                    }
                    if let c = current { ranges.append(c, start ..< parts.count) }
                }
                try collect("SELECT number, name, json FROM trial_params WHERE study_id = ?1 \(child) ORDER BY number, position",
                            into: &parameters) { row, out in
                    JSONBytes.string(row.bytes(1), into: &out); out.append(UInt8(ascii: ":")); out.append(contentsOf: row.bytes(2))
                }
                try collect("SELECT number, name, value FROM trial_metrics WHERE study_id = ?1 \(child) ORDER BY number, name",
                            into: &metrics) { row, out in
                    JSONBytes.string(row.bytes(1), into: &out); out.append(UInt8(ascii: ":")); JSONBytes.number(row.real(2), into: &out)
                }
                var curveStep: (number: Int, step: Int)?
                try collect("SELECT number, step, name, value FROM trial_intermediate WHERE study_id = ?1 \(child) ORDER BY number, step, name",
                            into: &curves) { row, out in
                    let key = (row.int(0), row.int(1))
                    if let c = curveStep, c.number == key.0, c.step == key.1 {
                        // Same step: the comma the collector wrote separates two metrics.
                    } else {
                        if let c = curveStep, c.number == key.0 {
                            // A new step of the same trial: close the last one; the collector's comma separates steps.
                            out.removeLast(); out.append(contentsOf: "}],".utf8)
                        }
                        out.append(contentsOf: "[\(key.1),{".utf8)
                        curveStep = key
                    }
                    JSONBytes.string(row.bytes(2), into: &out); out.append(UInt8(ascii: ":")); JSONBytes.number(row.real(3), into: &out)
                }

                var objects = TrialObjects(bytes: [], trials: [])
                objects.bytes.reserveCapacity(parts.count + 120 * parameters.numbers.count)
                var json: [UInt8] = []   // one trial's object, written then appended to the buffer
                var badNotes: Error?
                try db.query("""
                    SELECT number, state, violation, finish_seq, message, notes FROM trials \(condition) ORDER BY number
                    """, values) { row in
                    let number = row.int(0)
                    json.removeAll(keepingCapacity: true)
                    json.append(contentsOf: "{\"number\":\(number),\"state\":".utf8)
                    JSONBytes.string(row.bytes(1), into: &json)
                    json.append(contentsOf: ",\"parameters\":{".utf8)
                    if let r = parameters.take(number) { json.append(contentsOf: parts[r]) }
                    json.append(contentsOf: "},\"metrics\":{".utf8)
                    if let r = metrics.take(number) { json.append(contentsOf: parts[r]) }
                    json.append(contentsOf: "},\"violation\":".utf8)
                    JSONBytes.number(row.isNull(2) ? 0 : row.real(2), into: &json)
                    if let r = curves.take(number) {
                        json.append(contentsOf: ",\"curve\":[".utf8); json.append(contentsOf: parts[r]); json.append(contentsOf: "}]]".utf8)
                    }
                    if !row.isNull(4) { json.append(contentsOf: ",\"message\":".utf8); JSONBytes.string(row.bytes(4), into: &json) }
                    if !row.isNull(5) {
                        do {
                            json.append(contentsOf: ",\"notes\":".utf8)
                            JSONBytes.notes(try StoredNote.notes(row.optionalText(5), trial: number, file: path), into: &json)
                        } catch { badNotes = error }
                    }
                    let sequence = row.int64(3)
                    json.append(contentsOf: ",\"seq\":\(sequence)}".utf8)
                    objects.trials.append((number, sequence, objects.bytes.count ..< objects.bytes.count + json.count))
                    objects.bytes.append(contentsOf: json)
                }
                if let badNotes { throw badNotes }
                return objects
            }
        }
    }
}

/// Ranges of a buffer by trial number, appended and taken in increasing number order, so a
/// lookup costs a step forward rather than a hash.
private struct RangesByNumber {
    var numbers: [Int] = []
    var ranges: [Range<Int>] = []
    var next = 0

    mutating func append(_ number: Int, _ range: Range<Int>) {
        numbers.append(number); ranges.append(range)
    }

    /// The range of `number`, if it has one; numbers must be asked in increasing order.
    mutating func take(_ number: Int) -> Range<Int>? {
        while next < numbers.count, numbers[next] < number { next += 1 }
        return next < numbers.count && numbers[next] == number ? ranges[next] : nil
    }
}

/// Finished trials as JSON objects in one buffer: each trial's number, finish sequence and the
/// range of its object in `bytes`.
public struct TrialObjects: Sendable {
    public var bytes: [UInt8]
    public var trials: [(number: Int, sequence: Int64, range: Range<Int>)]
    public init(bytes: [UInt8], trials: [(number: Int, sequence: Int64, range: Range<Int>)]) { self.bytes = bytes; self.trials = trials }
}

/// JSON text written byte by byte.
public enum JSONBytes {
    /// `text` as a JSON string: quotes, backslashes and control characters escaped, and `<` too
    /// (so the text is safe inside an HTML page).
    static func string(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case UInt8(ascii: "<"): out.append(contentsOf: "\\u003c".utf8)
            case 0 ..< 0x20: out.append(contentsOf: String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A trial's notes as a JSON array of `{"time" (unix seconds), "kind", "step", "state",
    /// "metrics": {name: value}, "message"}` (`step`, `state` and `message` only when set): the one
    /// way every dashboard answer writes them.
    public static func notes(_ notes: [TrialNote], into out: inout [UInt8]) {
        func text(_ s: String) { Array(s.utf8).withUnsafeBufferPointer { string($0, into: &out) } }
        out.append(UInt8(ascii: "["))
        for (i, note) in notes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"time\":".utf8); number(note.time.timeIntervalSince1970, into: &out)
            out.append(contentsOf: ",\"kind\":".utf8); text(note.kind.rawValue)
            if let step = note.step { out.append(contentsOf: ",\"step\":\(step)".utf8) }
            if let state = note.state { out.append(contentsOf: ",\"state\":".utf8); text(state.rawValue) }
            out.append(contentsOf: ",\"metrics\":{".utf8)
            for (k, m) in note.metrics.sorted(by: { $0.key < $1.key }).enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                text(m.key); out.append(UInt8(ascii: ":")); number(m.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
            if let message = note.message { out.append(contentsOf: ",\"message\":".utf8); text(message) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A number as JSON: integral values without a fraction, the shortest round-trip form
    /// otherwise, null for NaN and infinities.
    static func number(_ x: Double, into out: inout [UInt8]) {
        if !x.isFinite { out.append(contentsOf: "null".utf8); return }
        if x == x.rounded(), abs(x) < 1e15 { out.append(contentsOf: String(Int64(x)).utf8); return }
        out.append(contentsOf: x.description.utf8)
    }
}
