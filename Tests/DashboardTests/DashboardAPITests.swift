import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Search
import Store
import XCTest
@testable import Dashboard

/// The dashboard's API through a real libmicrohttpd server on a free loopback port, over a real
/// store.
final class DashboardAPITests: XCTestCase {
    private var directory: URL!
    private var storage: SQLiteStorage!
    private var server: HTTPServer!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        storage = try SQLiteStorage(path: directory.appendingPathComponent("s.sqlite").path)
        let d3 = directory.appendingPathComponent("d3.js")
        try Data("var d3 = {version: \"3.5.16\"};".utf8).write(to: d3)
        // Derived documents (front, importances) fresh on every request, so each answer can be checked.
        let api = DashboardAPI(storage: storage, location: "s.sqlite", history: storage, d3Path: d3.path, derivedMaxAge: 0, derivedShare: nil)
        server = try HTTPServer(host: "127.0.0.1", port: 0, handler: api.respond)
    }

    override func tearDownWithError() throws {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A ZDT1 study of `trials` finished trials through `Study`, as a search writes it.
    private func study(_ trials: Int) throws -> Study {
        let text = #"{"name": "z", "evaluator": {"benchmark": {"problem": "zdt1", "variables": 4}}, "budget": 1000, "seed": 1, "strategy": "random"}"#
        let spec = try SpaceFile.parse(Data(text.utf8), file: "z.json")
        let (study, _) = try Study.create(spec, named: "z", in: storage, location: "s.sqlite")
        let evaluator = try study.makeEvaluator()
        for _ in 0 ..< trials {
            let asked = try study.ask(worker: "w")
            let result = try evaluator.evaluate(asked.candidate, parameters: asked.parameters) { _, _ in true }
            _ = try study.tell(asked.trial.number, metrics: result.metrics)
        }
        return study
    }

    private func get(_ path: String, method: String = "GET") throws -> (status: Int, type: String, body: Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)\(path)")!)
        request.httpMethod = method
        if method == "POST" { request.httpBody = Data("x=1".utf8) }
        final class Answer: @unchecked Sendable { var value: (Int, String, Data) = (0, "", Data()) }
        let done = DispatchSemaphore(value: 0), answer = Answer()
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            answer.value = (http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "Content-Type") ?? "", data ?? Data())
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "no answer for \(path)")
        return answer.value
    }

    private func json(_ path: String) throws -> [String: Any] {
        let r = try get(path)
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        XCTAssertTrue(r.type.hasPrefix("application/json"), r.type)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: r.body) as? [String: Any])
    }

    func testStudiesTrialsSinceACursorAndTheFront() throws {
        let study = try study(30)
        let studies = try XCTUnwrap(try json("/api/studies")["studies"] as? [[String: Any]])
        XCTAssertEqual(studies.count, 1)
        XCTAssertEqual(studies[0]["name"] as? String, "z")
        XCTAssertEqual(studies[0]["trials"] as? Int, 30)
        XCTAssertEqual((studies[0]["counts"] as? [String: Int])?["COMPLETE"], 30)

        let info = try json("/api/studies/z")
        XCTAssertEqual(info["evaluator"] as? String, "benchmark")
        XCTAssertEqual((info["parameters"] as? [String])?.count, 4)

        let all = try json("/api/studies/z/trials")
        let trials = try XCTUnwrap(all["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.map { $0["number"] as? Int }, (0 ..< 30).map { $0 })
        let cursor = try XCTUnwrap(all["cursor"] as? Int)
        XCTAssertEqual((try json("/api/studies/z/trials?since=\(cursor)")["trials"] as? [Any])?.count, 0, "nothing new since the cursor")

        // Five more trials: only they come back after the cursor.
        let evaluator = try study.makeEvaluator()
        for _ in 0 ..< 5 {
            let asked = try study.ask(worker: "w")
            let result = try evaluator.evaluate(asked.candidate, parameters: asked.parameters) { _, _ in true }
            _ = try study.tell(asked.trial.number, metrics: result.metrics)
        }
        let new = try XCTUnwrap(try json("/api/studies/z/trials?since=\(cursor)")["trials"] as? [[String: Any]])
        XCTAssertEqual(new.map { $0["number"] as? Int }, [30, 31, 32, 33, 34])
        XCTAssertNotNil((new[0]["metrics"] as? [String: Double])?["f1"])

        let front = try json("/api/studies/z/front")
        let members = try XCTUnwrap(front["front"] as? [[String: Any]]).compactMap { $0["number"] as? Int }
        XCTAssertEqual(Set(members), Set(try study.front().map(\.number)))
        let hv = try XCTUnwrap((front["hypervolume"] as? [String: Any])?["points"] as? [[Double]])
        XCTAssertEqual(hv.last?[0], 35)
        XCTAssertEqual(try XCTUnwrap(hv.last?[1]), study.objectives.hypervolume(try study.trials(), reference: try XCTUnwrap(study.record.referencePoint ?? study.objectives.chooseReferencePoint(try study.trials()))), accuracy: 1e-12)
        XCTAssertEqual(hv.map { $0[1] }, hv.map { $0[1] }.sorted(), "the hypervolume never falls")
    }

    func testImportanceOfEachObjectiveOrANoteWhenTooFewTrials() throws {
        let study = try study(10)
        let few = try json("/api/studies/z/importance")
        XCTAssertEqual((few["objectives"] as? [Any])?.count, 0)
        XCTAssertNotNil(few["note"] as? String)
        let evaluator = try study.makeEvaluator()
        for _ in 0 ..< 50 {
            let asked = try study.ask(worker: "w")
            let result = try evaluator.evaluate(asked.candidate, parameters: asked.parameters) { _, _ in true }
            _ = try study.tell(asked.trial.number, metrics: result.metrics)
        }
        let objectives = try XCTUnwrap(try json("/api/studies/z/importance")["objectives"] as? [[String: Any]])
        XCTAssertEqual(objectives.compactMap { $0["metric"] as? String }, ["f1", "f2"])
        let f1 = try XCTUnwrap(objectives[0]["parameters"] as? [[String: Any]])
        XCTAssertEqual(f1.first?["name"] as? String, "x0", "ZDT1's first objective is x0 itself")
        XCTAssertEqual(f1.compactMap { $0["importance"] as? Double }.reduce(0, +), 1, accuracy: 1e-9)
        XCTAssertEqual(try get("/api/studies/z/importance?objective=f3").status, 400)
    }

    /// The dashboard keeps each study's counts and trials between requests and tops them up by
    /// cursor: after more trials (finished, failed, pruned, still running) every answer equals
    /// what a fresh read of the store gives. The front is served from what was kept until it is
    /// `derivedMaxAge` old.
    func testWhatIsKeptBetweenRequestsIsToppedUpAndStaysRight() throws {
        let study = try study(10)
        let kept = DashboardAPI(storage: storage, location: "s.sqlite", history: nil, derivedMaxAge: 3600)
        func answer(_ api: DashboardAPI, _ path: String, _ query: [String: String] = [:]) throws -> [String: Any] {
            let r = api.respond(HTTPRequest(method: "GET", path: path, query: query))
            XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
            return try XCTUnwrap(JSONSerialization.jsonObject(with: r.body) as? [String: Any])
        }
        func counts(_ api: DashboardAPI) throws -> [String: Int] {
            try XCTUnwrap((try answer(api, "/api/studies")["studies"] as? [[String: Any]])?.first?["counts"] as? [String: Int])
        }
        func storeCounts() throws -> [String: Int] {
            let summary = try XCTUnwrap(try storage.studies().first)
            return Dictionary(uniqueKeysWithValues: summary.counts.map { ($0.key.rawValue, $0.value) })
        }
        XCTAssertEqual(try counts(kept), try storeCounts())
        let first = try answer(kept, "/api/studies/z/trials")
        let cursor = try XCTUnwrap(first["cursor"] as? Int)
        let frontBefore = try answer(kept, "/api/studies/z/front")

        let evaluator = try study.makeEvaluator()
        for k in 0 ..< 12 {
            let asked = try study.ask(worker: "w")
            switch k {
            case 3: try study.fail(asked.trial.number, reason: "boom")
            case 7: continue   // left RUNNING
            case 9: try storage.finishTrial(study: study.id, number: asked.trial.number, state: .pruned, metrics: ["f1": 1],
                                            violation: 0, message: "pruned at step 1")
            default:
                let result = try evaluator.evaluate(asked.candidate, parameters: asked.parameters) { _, _ in true }
                _ = try study.tell(asked.trial.number, metrics: result.metrics)
            }
            if k % 4 == 0 { XCTAssertEqual(try counts(kept), try storeCounts(), "after \(k + 1) more") }
        }
        XCTAssertEqual(try counts(kept), try storeCounts())
        XCTAssertEqual(try counts(kept)["RUNNING"], 1)

        let fresh = try XCTUnwrap(JSONSerialization.jsonObject(with: try storage.finishedTrialsJSON(study: study.id, finishedAfter: nil).json) as? NSArray)
        XCTAssertEqual(try XCTUnwrap(try answer(kept, "/api/studies/z/trials")["trials"] as? NSArray), fresh)
        XCTAssertEqual(fresh.count, 21)
        let since = try answer(kept, "/api/studies/z/trials", ["since": "\(cursor)"])
        let newer = try XCTUnwrap(JSONSerialization.jsonObject(
            with: try storage.finishedTrialsJSON(study: study.id, finishedAfter: Int64(cursor)).json) as? NSArray)
        XCTAssertEqual(try XCTUnwrap(since["trials"] as? NSArray), newer)
        XCTAssertEqual(newer.count, 11)
        XCTAssertGreaterThan(try XCTUnwrap(since["cursor"] as? Int), cursor)

        func lastCount(_ front: [String: Any]) throws -> Double {
            try XCTUnwrap(((front["hypervolume"] as? [String: Any])?["points"] as? [[Double]])?.last?[0])
        }
        XCTAssertEqual(try lastCount(frontBefore), 10)
        let keptFront = try answer(kept, "/api/studies/z/front")
        XCTAssertEqual(try lastCount(keptFront), 10, "kept: younger than derivedMaxAge")
        XCTAssertEqual(keptFront["cursor"] as? Int, cursor, "a kept front says which cursor it saw")
        let fresher = DashboardAPI(storage: storage, location: "s.sqlite", history: nil, derivedMaxAge: 0, derivedShare: nil)
        let freshFront = try answer(fresher, "/api/studies/z/front")
        XCTAssertEqual(try lastCount(freshFront), 21)
        XCTAssertEqual(freshFront["cursor"] as? Int, since["cursor"] as? Int, "a fresh front is as new as the trials")
        XCTAssertEqual(try answer(fresher, "/api/studies/z/importance")["cursor"] as? Int, since["cursor"] as? Int)
    }

    func testThePageAndD3AreServedAndNothingElseIs() throws {
        let page = try get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.type.hasPrefix("text/html"))
        XCTAssertTrue(String(decoding: page.body, as: UTF8.self).contains("<script src=\"/d3.js\"></script>"))
        let d3 = try get("/d3.js")
        XCTAssertEqual(String(decoding: d3.body, as: UTF8.self), "var d3 = {version: \"3.5.16\"};")
        for path in ["/../s.sqlite", "/d3.js/../../etc/passwd", "/api/studies/z/../../x", "/favicon.ico", "/api/nothing"] {
            XCTAssertEqual(try get(path).status, 404, path)
        }
    }

    func testBadRequestsGetTheirStatusAndAReason() throws {
        _ = try study(3)
        let unknown = try get("/api/studies/nope")
        XCTAssertEqual(unknown.status, 400)
        let reason = try XCTUnwrap((try JSONSerialization.jsonObject(with: unknown.body) as? [String: String])?["error"])
        XCTAssertTrue(reason.hasPrefix("no study 'nope' in s.sqlite"), reason)
        XCTAssertEqual(try get("/api/studies/z/trials?since=-1").status, 400)
        XCTAssertEqual(try get("/api/studies/z/trials?since=abc").status, 400)
        XCTAssertEqual(try get("/api/studies", method: "POST").status, 405, "the dashboard never writes")
        XCTAssertEqual(try get("/api/studies", method: "DELETE").status, 405)
        let head = try get("/api/studies", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body.count, 0)
        // A study name is looked up, never interpolated: quotes and markup come back escaped.
        XCTAssertEqual(try get("/api/studies/%3Cscript%3E").status, 400)
    }

    func testTheNightlyHistoryIsJudgedRunAgainstRun() throws {
        for (i, value) in [1.0, 1.01, 0.99, 1.0, 1.6].enumerated() {
            let run = try storage.beginRun(BenchRunRecord(id: 0, suite: "nightly", started: Date(timeIntervalSince1970: Double(i) * 86400), finished: nil,
                                                          state: .running, commit: "c\(i)", hostFingerprint: "h", host: "{}", toolchain: "t"))
            try storage.recordResults([BenchResultRecord(suite: "engine", name: "mlp_epoch_s", value: value, unit: "s", better: "lower")], run: run.id)
            try storage.finishRun(run.id, state: .complete)
        }
        let runs = try XCTUnwrap(try json("/api/nightly")["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 5)
        let latest = try XCTUnwrap((runs[0]["metrics"] as? [[String: Any]])?.first)
        XCTAssertEqual(latest["verdict"] as? String, "regression", "1.6 s against a baseline of 1.0 s")
        let earlier = try XCTUnwrap((runs[1]["metrics"] as? [[String: Any]])?.first)
        XCTAssertEqual(earlier["verdict"] as? String, "ok")
    }
}

/// The SQLite store's JSON of finished trials, written from its rows, says what the records say.
final class TrialsJSONTests: XCTestCase {
    func testTheRowsJSONEqualsTheRecordsJSONWithCurvesMessagesNotesAndOddNumbers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trials-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("s.sqlite").path)
        let (record, _) = try storage.openStudy(StudyRecord(name: "q", space: #"{"evaluator": {"command": {"run": "t"}}, "objectives": {"loss": "minimize"}}"#, objectives: ["loss"], directions: ["minimize"], seed: 0, strategy: "random"))
        for n in 0 ..< 7 {
            let trial = try XCTUnwrap(try storage.claimTrial(study: record.id, worker: "w", limit: nil) { _ in
                [ParameterRecord(name: "training.lr", value: 0.001 * Double(n + 1), json: JSONValue.format(0.001 * Double(n + 1))),
                 ParameterRecord(name: "name \"quoted\" <b>", value: 0, json: "\"adam\"")]
            })
            if n == 5 { continue }   // stays RUNNING: not listed
            if n == 6 {
                // Its worker was lost, and reports late: STALE, with the late reports as notes.
                try storage.abandonTrial(study: record.id, number: trial.number, reason: "interrupted <by> \"SIGINT\"")
                XCTAssertThrowsError(try storage.heartbeat(study: record.id, number: trial.number))
                XCTAssertThrowsError(try storage.finishTrial(study: record.id, number: trial.number, state: .complete,
                                                             metrics: ["loss": .nan, "acc": 0.75], violation: 0, message: "late <b>"))
                continue
            }
            for step in stride(from: 1, through: n % 3, by: 1) {
                try storage.reportIntermediate(study: record.id, number: trial.number, step: step, metrics: ["loss": 1 / Double(step), "acc": 0.5])
            }
            let metrics: [String: Double] = n == 2 ? ["loss": .nan] : ["loss": 0.25 * Double(n), "params": 1e6]
            try storage.finishTrial(study: record.id, number: trial.number, state: n == 3 ? .fail : .complete, metrics: metrics,
                                    violation: 0, message: n == 3 ? "boom\nline two" : nil)
        }
        let study = try Study.open("q", in: storage, location: "s")
        let api = DashboardAPI(storage: storage, location: "s", history: nil)
        func parsed(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }
        for since: Int64? in [nil, 2] {
            let fast = try storage.finishedTrialsJSON(study: record.id, finishedAfter: since)
            let generic = try api.genericTrials(study, since: since)
            let expected = try XCTUnwrap((try parsed(generic) as? [String: Any])?["trials"] as? [[String: Any]])
            let got = try XCTUnwrap(try JSONSerialization.jsonObject(with: fast.json) as? [[String: Any]])
            XCTAssertEqual(got as NSArray, expected as NSArray, String(decoding: fast.json, as: UTF8.self))
            XCTAssertEqual(got.count, since == nil ? 6 : 4)
            let notes = try XCTUnwrap(got.last?["notes"] as? [[String: Any]])
            XCTAssertEqual(notes.map { $0["kind"] as? String }, ["heartbeat", "result"])
            XCTAssertEqual(notes.last?["metrics"] as? NSDictionary, ["loss": NSNull(), "acc": 0.75] as NSDictionary)
        }
        XCTAssertEqual(try storage.finishedTrialsJSON(study: record.id, finishedAfter: 6).cursor, nil, "nothing after the last cursor")
    }
}
