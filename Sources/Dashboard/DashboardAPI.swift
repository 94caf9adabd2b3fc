import Bench
import Engine
import Foundation
import Search
import Store

/// The dashboard's routes over a study store, read-only: each request reads what it needs (one
/// short read per query, nothing held between requests) and answers JSON, the page or d3.
///
/// | route | answer |
/// |---|---|
/// | `/` | the page |
/// | `/d3.js` | d3, from where Debian's `libjs-d3` installs it |
/// | `/api/studies` | every study: objectives, trial counts by state, last activity |
/// | `/api/studies/NAME` | one study: evaluator, strategy, objectives, constraints, parameters, budget, counts |
/// | `/api/studies/NAME/trials?since=SEQ` | finished trials (all, or those finished after cursor SEQ) and the new cursor (running trials are counted in `/api/studies`) |
/// | `/api/studies/NAME/front` | the Pareto front's members and the hypervolume over trials |
/// | `/api/studies/NAME/importance?objective=M` | each parameter's PED-ANOVA importance per objective (or for M) |
/// | `/api/nightly` | the nightly benchmark runs, newest first, each metric with its verdict |
///
/// A study name in a URL is looked up in the store, never used as a path.
public final class DashboardAPI {
    let storage: StudyStorage
    let location: String
    /// The store's benchmark history, when it has one (an SQLite store).
    let history: SQLiteStorage?
    let d3: Data?
    let d3Path: String
    /// Studies opened so far, by name: a study's spec never changes, so it is read once.
    private var opened: [String: Study] = [:]
    /// What is kept of each study between requests, by study id (see `StudyFeed`).
    private var feeds: [Int64: StudyFeed] = [:]
    /// Requests are answered one at a time.
    private let lock = NSLock()

    /// Where Debian's libjs-d3 installs d3.
    public static let defaultD3Path = "/usr/share/javascript/d3/d3.min.js"

    /// - Parameters:
    ///   - derivedMaxAge: how long a study's front and importances may be served after new trials
    ///     finished (seconds); see `derived`.
    ///   - derivedShare: the share of one core that remaking each of them may take while a study
    ///     runs (nil: no limit); see `derived`.
    public init(storage: StudyStorage, location: String, history: SQLiteStorage?, d3Path: String = DashboardAPI.defaultD3Path,
                derivedMaxAge: TimeInterval = 1, derivedShare: Double? = 0.02) {
        self.storage = storage; self.location = location; self.history = history; self.d3Path = d3Path
        self.derivedMaxAge = derivedMaxAge; self.derivedShare = derivedShare
        d3 = FileManager.default.contents(atPath: d3Path)
    }

    /// The answer to `request`; failures become JSON errors with their status, never a crash.
    public func respond(_ request: HTTPRequest) -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        do {
            switch parts.first {
            case nil, "index.html":
                guard parts.count <= 1 else { break }
                return HTTPResponse(contentType: "text/html; charset=utf-8", body: Data(DashboardPage.html.utf8))
            case "d3.js":
                guard parts.count == 1 else { break }
                guard let d3 else { return .error(404, "d3 is not installed at \(d3Path) (apt-get install libjs-d3)") }
                return HTTPResponse(contentType: "text/javascript; charset=utf-8", body: d3)
            case "api":
                return try api(Array(parts.dropFirst()), query: request.query)
            default: break
            }
            return .error(404, "no such page: \(request.path)")
        } catch let e as DashboardError {
            return .error(e.usage ? 400 : 500, e.reason)
        } catch {
            return .error(500, "\(error)")
        }
    }

    private func api(_ parts: [String], query: [String: String]) throws -> HTTPResponse {
        switch parts.first {
        case "studies":
            if parts.count == 1 { return .json(try studies()) }
            let study = try open(parts[1])
            switch parts.count == 2 ? nil : parts[2] {
            case nil: return .json(Self.describe(study))
            case "trials" where parts.count == 3:
                var since: Int64?
                if let text = query["since"] {
                    guard let s = Int64(text), s >= 0 else { throw DashboardError("since: '\(text)' is not a cursor (an integer ≥ 0)", usage: true) }
                    since = s
                }
                return try trials(study, since: since)
            case "front" where parts.count == 3:
                return .json(try derived(study, key: "front") { try front(study) })
            case "importance" where parts.count == 3:
                let objective = query["objective"]
                return .json(try derived(study, key: "importance?" + (objective ?? "")) { try importance(study, objective: objective) })
            default: break
            }
        case "nightly" where parts.count == 1:
            return .json(try nightly())
        default: break
        }
        return .error(404, "no such API route: /api/" + parts.joined(separator: "/"))
    }

    /// Documents computed from all of a study's trials (its front, its importances), kept with the
    /// finish cursor they saw, when they were made and what they cost to make.
    private var derivedCache: [Int64: [String: (cursor: Int64?, made: Date, cost: TimeInterval, body: String)]] = [:]
    let derivedMaxAge: TimeInterval
    let derivedShare: Double?

    /// `make()`'s document for `study`. The page asks for the front and the importances whenever
    /// new trials arrive, so while a study runs every client would otherwise recompute them from
    /// every trial on each poll. A kept document is served while no trial has finished since it
    /// was made, or while it is younger than `derivedMaxAge`, or younger than its own cost divided
    /// by `derivedShare`: so remaking it takes at most that share of one core however many
    /// clients ask (at 2%, a front that takes 0.04 s to compute is remade at most every 2 s).
    private func derived(_ study: Study, key: String, make: () throws -> String) throws -> String {
        let cursor = try feed(study.record).cursor(storage)
        if let cached = derivedCache[study.id]?[key] {
            let age = Date().timeIntervalSince(cached.made)
            if cached.cursor == cursor || age < derivedMaxAge || derivedShare.map({ age < cached.cost / $0 }) == true {
                return cached.body
            }
        }
        let start = Self.threadTime()
        // Each document says which finish cursor it saw, so a page can ask again until it is current.
        let made = try make()
        let body = "{\"cursor\":\(cursor ?? 0)," + made.dropFirst()
        derivedCache[study.id, default: [:]][key] = (cursor, Date(), Self.threadTime() - start, body)
        return body
    }

    /// The processor time this thread has used, in seconds.
    static func threadTime() -> TimeInterval {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return TimeInterval(time.tv_sec) + TimeInterval(time.tv_nsec) / 1e9
    }

    /// The feed of `record`, new when the study is new or was replaced by one of the same id.
    private func feed(_ record: StudyRecord) -> StudyFeed {
        if let feed = feeds[record.id], feed.record.name == record.name, feed.record.created == record.created { return feed }
        let feed = StudyFeed(record: record)
        feeds[record.id] = feed
        return feed
    }

    private func open(_ name: String) throws -> Study {
        if let study = opened[name] { return study }
        do {
            let study = try Study.open(name, in: storage, location: location)
            opened[name] = study
            return study
        } catch let e as StudyError {
            throw DashboardError(e.reason, usage: true)
        }
    }

    // MARK: - Documents

    private func studies() throws -> String {
        let formatter = Self.iso8601
        let items = try storage.studyRecords().map { study -> String in
            let s = try feed(study).summary(storage)
            let objectives = zip(study.objectives, study.directions).map { "{\"metric\":\(JSONValue.quoted($0)),\"direction\":\(JSONValue.quoted($1))}" }
            let counts = TrialState.allCases.map { "\(JSONValue.quoted($0.rawValue)):\(s.counts[$0] ?? 0)" }
            return "{\"name\":\(JSONValue.quoted(study.name)),\"strategy\":\(JSONValue.quoted(study.strategy)),"
                + "\"objectives\":[\(objectives.joined(separator: ","))],\"counts\":{\(counts.joined(separator: ","))},"
                + "\"trials\":\(s.counts.values.reduce(0, +)),\"created\":\(JSONValue.quoted(formatter.string(from: study.created))),"
                + "\"last_activity\":\(s.lastActivity.map { JSONValue.quoted(formatter.string(from: $0)) } ?? "null")}"
        }
        return "{\"store\":\(JSONValue.quoted(location)),\"studies\":[\(items.joined(separator: ","))]}\n"
    }

    static func describe(_ study: Study) -> String {
        let spec = study.spec
        let objectives = spec.objectives.map { "{\"metric\":\(JSONValue.quoted($0.metric)),\"direction\":\(JSONValue.quoted($0.direction.rawValue))}" }
        let constraints = spec.constraints.map {
            "{\"metric\":\(JSONValue.quoted($0.metric)),\"relation\":\(JSONValue.quoted($0.relation.rawValue)),\"bound\":\(number($0.bound))}"
        }
        var names: [String] = []
        for d in spec.space.dimensions where !names.contains(d.name) { names.append(d.name) }
        return "{\"name\":\(JSONValue.quoted(study.name)),\"evaluator\":\(JSONValue.quoted(spec.evaluator.name)),"
            + "\"strategy\":\(JSONValue.quoted(study.record.strategy)),\"seed\":\(spec.seed),"
            + "\"budget\":\(spec.budget.trials.map(String.init) ?? "null"),"
            + "\"objectives\":[\(objectives.joined(separator: ","))],\"constraints\":[\(constraints.joined(separator: ","))],"
            + "\"parameters\":[\(names.map(JSONValue.quoted).joined(separator: ","))],"
            + "\"reference_point\":\(study.record.referencePoint.map { "[" + $0.map(number).joined(separator: ",") + "]" } ?? "null")}\n"
    }

    /// Finished trials (after `since`), in number order, with the cursor to ask from next time,
    /// from the study's feed: the store is asked only for what finished since the last request.
    private func trials(_ study: Study, since: Int64?) throws -> HTTPResponse {
        let (json, cursor) = try feed(study.record).trials(since: since, storage: storage)
        var body = Data("{\"study\":\(JSONValue.quoted(study.name)),\"trials\":".utf8)
        body.reserveCapacity(json.count + 64)
        body.append(json)
        body.append(contentsOf: ",\"cursor\":\(cursor)}\n".utf8)
        return HTTPResponse(contentType: "application/json; charset=utf-8", body: body)
    }

    func genericTrials(_ study: Study, since: Int64?) throws -> String {
        let records = try storage.trials(study: study.id, finishedAfter: since)
        var out = "{\"study\":\(JSONValue.quoted(study.name)),\"trials\":["
        out.reserveCapacity(200 * records.count + 64)
        var cursor = since ?? 0
        for (i, t) in records.enumerated() where t.state.isFinished {
            if i > 0, out.last != "[" { out += "," }
            Self.write(t, into: &out)
            if let s = t.finishSequence { cursor = max(cursor, s) }
        }
        out += "],\"cursor\":\(cursor)}\n"
        return out
    }

    static func write(_ t: TrialRecord, into out: inout String) {
        out += "{\"number\":\(t.number),\"state\":\"\(t.state.rawValue)\",\"parameters\":{"
        for (k, p) in t.parameters.enumerated() {
            if k > 0 { out += "," }
            out += JSONValue.quoted(p.name) + ":" + p.json
        }
        out += "},\"metrics\":{"
        for (k, m) in t.metrics.sorted(by: { $0.key < $1.key }).enumerated() {
            if k > 0 { out += "," }
            out += JSONValue.quoted(m.key) + ":" + number(m.value)
        }
        out += "},\"violation\":\(number(t.violation))"
        if !t.intermediate.isEmpty {
            out += ",\"curve\":["
            for (k, step) in t.intermediate.keys.sorted().enumerated() {
                if k > 0 { out += "," }
                out += "[\(step),{"
                for (j, m) in (t.intermediate[step] ?? [:]).sorted(by: { $0.key < $1.key }).enumerated() {
                    if j > 0 { out += "," }
                    out += JSONValue.quoted(m.key) + ":" + number(m.value)
                }
                out += "}]"
            }
            out += "]"
        }
        if let message = t.message { out += ",\"message\":" + JSONValue.quoted(message) }
        if !t.notes.isEmpty {
            var notes: [UInt8] = []
            JSONBytes.notes(t.notes, into: &notes)
            out += ",\"notes\":" + String(decoding: notes, as: UTF8.self)
        }
        out += ",\"seq\":\(t.finishSequence.map(String.init) ?? "null")}"
    }

    /// The front's members (in the first objective's order) and the hypervolume after each
    /// share of the trials (at most 200 points), against the study's reference point.
    private func front(_ study: Study) throws -> String {
        let all = try study.trials()
        let members = study.objectives.front(all)
        var out = "{\"study\":\(JSONValue.quoted(study.name)),\"front\":["
        for (i, t) in members.enumerated() {
            if i > 0 { out += "," }
            Self.write(t, into: &out)
        }
        out += "],\"hypervolume\":"
        let reference = study.record.referencePoint ?? study.objectives.chooseReferencePoint(all)
        if study.objectives.objectives.count >= 2, let reference {
            let minimizedReference = zip(study.objectives.objectives, reference).map { $0.minimized($1) }
            let points = all.filter(\.state.isFinished).sorted { ($0.finishSequence ?? 0) < ($1.finishSequence ?? 0) }.map { t -> [Double]? in
                guard t.state == .complete, t.violation <= 0, case .success(let v) = study.objectives.minimized(t.metrics) else { return nil }
                return v
            }
            let history = hypervolumeHistory(points, reference: minimizedReference, checkpoints: min(200, points.count))
            out += "{\"reference_point\":[\(reference.map(Self.number).joined(separator: ","))],\"points\":["
                + history.map { "[\($0.count),\(Self.number($0.hypervolume))]" }.joined(separator: ",") + "]}"
        } else {
            out += "null"
        }
        return out + "}\n"
    }

    /// Each objective's parameter importances; too few trials is an answer (`"note"`), not an error.
    private func importance(_ study: Study, objective: String?) throws -> String {
        let results: [ObjectiveImportance]
        do { results = try study.importance(of: objective) } catch let e as StudyError {
            if let objective, !study.spec.objectives.contains(where: { $0.metric == objective }) { throw DashboardError(e.reason, usage: true) }
            return "{\"study\":\(JSONValue.quoted(study.name)),\"objectives\":[],\"note\":\(JSONValue.quoted(e.reason))}\n"
        }
        let items = results.map { r in
            "{\"metric\":\(JSONValue.quoted(r.objective.metric)),\"direction\":\"\(r.objective.direction.rawValue)\",\"trials\":\(r.trials),"
                + "\"top_trials\":\(r.topTrials),\"parameters\":["
                + r.parameters.map { "{\"name\":\(JSONValue.quoted($0.name)),\"importance\":\(Self.number($0.importance))}" }.joined(separator: ",") + "]}"
        }
        return "{\"study\":\(JSONValue.quoted(study.name)),\"method\":\"PED-ANOVA\",\"objectives\":[\(items.joined(separator: ","))]}\n"
    }

    /// The nightly runs (newest first, at most 60), each metric judged against the runs before
    /// it on the same machine, as `autotune bench nightly` judges them.
    private func nightly() throws -> String {
        guard let history else { return "{\"runs\":[],\"note\":\"this store keeps no benchmark history\"}\n" }
        let runs = try history.benchRuns(hostFingerprint: nil, state: nil, limit: 60)
        let formatter = Self.iso8601
        var results: [Int64: [BenchRecord]] = [:]
        for run in runs {
            results[run.id] = try history.benchResults(run: run.id).map {
                BenchRecord(suite: $0.suite, name: $0.name, value: $0.value, unit: $0.unit, better: BenchRecord.Better(rawValue: $0.better) ?? .lower)
            }
        }
        let rule = RegressionRule()
        var items: [String] = []
        for (i, run) in runs.enumerated() {
            let earlier = runs[(i + 1)...].filter { $0.hostFingerprint == run.hostFingerprint && $0.state == .complete }
            let comparisons = MetricComparison.compare(results[run.id] ?? [], history: earlier.map { results[$0.id] ?? [] }, rule: rule)
            let metrics = comparisons.map {
                "{\"suite\":\(JSONValue.quoted($0.suite)),\"name\":\(JSONValue.quoted($0.name)),\"value\":\(Self.number($0.now)),"
                    + "\"unit\":\(JSONValue.quoted($0.unit)),\"better\":\"\($0.better.rawValue)\",\"verdict\":\"\($0.verdict.rawValue)\"}"
            }
            items.append("{\"id\":\(run.id),\"suite\":\(JSONValue.quoted(run.suite)),\"started\":\(JSONValue.quoted(formatter.string(from: run.started))),"
                         + "\"state\":\"\(run.state.rawValue)\",\"commit\":\(JSONValue.quoted(run.commit)),\"metrics\":[\(metrics.joined(separator: ","))]}")
        }
        return "{\"runs\":[\(items.joined(separator: ","))]}\n"
    }

    /// Dates as ISO 8601 in UTC (`2026-12-07T12:56:02Z`); one formatter, since making one costs
    /// more than a study-list request (used under `lock` only).
    nonisolated(unsafe) private static let iso8601 = ISO8601DateFormatter()

    /// A JSON number; null for what JSON cannot hold (NaN, infinities).
    static func number(_ x: Double) -> String { x.isFinite ? JSONValue.format(x) : "null" }
}
