import Foundation
import XCTest

/// `autotune search`, `studies`, `show`, `front`, `ask` and `tell` run for real through the built
/// executable, on benchmark problems and on small commands (no training, so they are quick).
final class SearchEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("studies.sqlite").path }

    private func zdtSpace(strategy: String = "random", budget: Int = 30) -> String {
        write("zdt.json", """
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}},
         "strategy": "\(strategy)", "budget": \(budget), "seed": 3}
        """)
    }

    /// A command study: `sleep` seconds per candidate, loss = (x - 0.3)², cost = y.
    private func commandSpace(sleep: Double, budget: Int) -> String {
        let script = write("objective.py", """
        import json, sys, time
        c = json.load(sys.stdin)["training"]
        time.sleep(\(sleep))
        print(json.dumps({"loss": (c["x"] - 0.3) ** 2, "cost": c["y"]}))
        """)
        return write("command.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}, "y": {"_type": "randint", "_value": [1, 10]}},
         "evaluator": {"command": {"run": ["python3", "\(script)"], "timeout": 30}},
         "objectives": {"loss": "minimize", "cost": "minimize"},
         "strategy": "random", "budget": \(budget), "seed": 5}
        """)
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private func trials(_ study: String) throws -> [[String: Any]] {
        let r = runAutotune(["show", study, "--db", db, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(json(r.stdout)["trials"] as? [[String: Any]])
    }

    /// The trials so far while another process runs the study: none until its store exists.
    private func trialsSoFar(_ study: String) -> [[String: Any]] {
        let r = runAutotune(["show", study, "--db", db, "--json"])
        guard r.status == 0, let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else { return [] }
        return doc["trials"] as? [[String: Any]] ?? []
    }

    func testSearchPrintsTheFrontAndStoresEveryTrial() throws {
        let space = zdtSpace()
        let r = runAutotune(["search", space, "--db", db, "--study", "z"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("study 'z' in \(db): 30 trials (30 complete)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Pareto front ("), r.stdout)
        XCTAssertTrue(r.stdout.contains("hypervolume"), r.stdout)
        let all = try trials("z")
        XCTAssertEqual(all.map { $0["trial"] as? Int }, (0..<30).map { $0 })
        XCTAssertTrue(all.allSatisfy { $0["state"] as? String == "COMPLETE" })

        let front = try json(runAutotune(["front", "z", "--db", db, "--json"]).stdout)
        XCTAssertEqual(front["reference_point"] as? [Double], [1.1, 1.1])
        let members = try XCTUnwrap(front["front"] as? [[String: Any]])
        XCTAssertFalse(members.isEmpty)
        let hv = try XCTUnwrap(front["hypervolume"] as? Double)
        XCTAssertGreaterThan(hv, 0)
        XCTAssertLessThan(hv, 0.8767, "no finite sample beats the true front")

        let listing = runAutotune(["studies", "--db", db])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertTrue(listing.stdout.contains("z      30"), listing.stdout)
    }

    func testSameSeedSameTrialsAndResumeContinuesTheSequence() throws {
        let space = zdtSpace(strategy: "evolution", budget: 24)
        XCTAssertEqual(runAutotune(["search", space, "--db", db, "--study", "full", "--quiet"]).status, 0)
        XCTAssertEqual(runAutotune(["search", space, "--db", db, "--study", "half", "--budget", "12", "--quiet"]).status, 0)
        let resumed = runAutotune(["search", space, "--db", db, "--study", "half", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let full = try trials("full").map { $0["parameters"] as? [String: Double] }
        let half = try trials("half").map { $0["parameters"] as? [String: Double] }
        XCTAssertEqual(full.count, 24)
        XCTAssertEqual(full, half, "a study stopped and resumed proposes what an uninterrupted one does")

        let other = runAutotune(["search", space, "--db", db, "--study", "other", "--seed", "4", "--quiet"])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertNotEqual(try trials("other").map { $0["parameters"] as? [String: Double] }, full)

        let changed = runAutotune(["search", space, "--db", db, "--study", "full", "--seed", "9"])
        XCTAssertEqual(changed.status, 2)
        XCTAssertTrue(changed.stderr.contains("already exists") && changed.stderr.contains("seed"), changed.stderr)
    }

    func testKilledWorkerLosesNothingAndItsTrialIsRerunOnResume() throws {
        let space = commandSpace(sleep: 0.4, budget: 8)
        guard let process = startAutotune(["search", space, "--db", db, "--study", "k", "--heartbeat", "0.2", "--quiet"]) else { return }
        // Wait until three trials are stored as finished, then kill the worker mid-trial.
        waitUntil(timeout: 60, interval: 0.15) {
            trialsSoFar("k").filter { $0["state"] as? String == "COMPLETE" }.count >= 3
        }
        Thread.sleep(forTimeInterval: 0.1)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try trials("k")
        let finishedBefore = before.filter { $0["state"] as? String == "COMPLETE" }
        XCTAssertGreaterThanOrEqual(finishedBefore.count, 3)
        XCTAssertEqual(before.filter { $0["state"] as? String == "RUNNING" }.count, 1, "the killed trial is left RUNNING")

        Thread.sleep(forTimeInterval: 1.5)   // longer than 6 heartbeats
        let resumed = runAutotune(["search", space, "--db", db, "--study", "k", "--heartbeat", "0.2", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = try trials("k")
        let failed = after.filter { $0["state"] as? String == "STALE" }
        XCTAssertEqual(failed.count, 1)
        XCTAssertTrue((failed.first?["message"] as? String ?? "").contains("heartbeat"), "\(failed)")
        let retry = after.filter { $0["retry_of"] as? Int == failed.first?["trial"] as? Int }
        XCTAssertEqual(retry.count, 1, "the lost trial is run again")
        XCTAssertEqual(retry.first?["parameters"] as? [String: Double], failed.first?["parameters"] as? [String: Double])
        XCTAssertEqual(after.filter { $0["state"] as? String == "COMPLETE" }.count, 8, "the budget counts the re-run, not the lost one")
        for t in finishedBefore {
            let same = after.first { $0["trial"] as? Int == t["trial"] as? Int }
            XCTAssertEqual(same?["metrics"] as? [String: Double], t["metrics"] as? [String: Double], "committed results survive")
        }
    }

    func testInterruptedSearchHandsItsTrialBackAndResumesAtOnce() throws {
        let space = commandSpace(sleep: 1.0, budget: 4)
        guard let process = startAutotune(["search", space, "--db", db, "--study", "i", "--quiet"]) else { return }
        waitUntil(timeout: 30) { trialsSoFar("i").contains { $0["state"] as? String == "RUNNING" } }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGINT)
        let interrupted = try trials("i").filter { $0["state"] as? String == "STALE" }
        XCTAssertEqual(interrupted.count, 1)
        XCTAssertEqual(interrupted.first?["message"] as? String, "interrupted by SIGINT; queued to run again (re-run 1 of at most 3)")

        let resumed = runAutotune(["search", space, "--db", db, "--study", "i", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = try trials("i")
        XCTAssertEqual(after.filter { $0["state"] as? String == "COMPLETE" }.count, 4)
        XCTAssertEqual(after.filter { $0["retry_of"] as? Int == interrupted.first?["trial"] as? Int }.count, 1)
    }

    /// Interrupted while the engine trains (inside OpenBLAS): exit 130 with the trial handed back,
    /// never a crash of the library's clean-up under the training thread.
    func testAnInterruptedEngineTrialExitsCleanly() throws {
        let space = write("train.json", """
        {"architecture": {"family": "mlp", "widths": {"_type": "choice", "_value": [[64, 32], [128, 64]]}},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 16, "epochs": 200},
         "evaluator": {"engine": {"data": {"dataset": "spirals", "samples": 1500, "classes": 3}}},
         "objectives": {"accuracy": "maximize"}, "budget": 50, "seed": 1}
        """)
        guard let process = startAutotune(["search", space, "--db", db, "--study", "t", "--quiet", "--threads", "2"]) else { return }
        waitUntil(timeout: 30) { trialsSoFar("t").contains { $0["state"] as? String == "RUNNING" } }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "a signal ended it: it crashed")
        XCTAssertEqual(process.terminationStatus, 128 + SIGINT)
        XCTAssertEqual(try trials("t").filter { $0["state"] as? String == "STALE" }.first?["message"] as? String,
                       "interrupted by SIGINT; queued to run again (re-run 1 of at most 3)")
    }

    func testTwoWorkersShareOneStoreWithoutLosingOrDuplicatingTrials() throws {
        let space = commandSpace(sleep: 0.2, budget: 12)
        let r = runAutotune(["search", space, "--db", db, "--study", "w", "--workers", "2", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try trials("w")
        XCTAssertEqual(all.count, 12)
        XCTAssertEqual(Set(all.compactMap { $0["trial"] as? Int }), Set(0..<12))
        XCTAssertTrue(all.allSatisfy { $0["state"] as? String == "COMPLETE" }, "\(all.map { $0["message"] ?? "" })")
        XCTAssertEqual(Set(all.compactMap { $0["worker"] as? String }).count, 2, "both workers evaluated trials")
    }

    func testAskAndTellDriveAStudyFromOutside() throws {
        let space = commandSpace(sleep: 0, budget: 3)
        let asked = runAutotune(["ask", space, "--db", db, "--study", "at"])
        XCTAssertEqual(asked.status, 0, asked.stderr)
        let a = try json(asked.stdout)
        XCTAssertEqual(a["trial"] as? Int, 0)
        let x = try XCTUnwrap((a["parameters"] as? [String: Any])?["training.x"] as? Double)
        XCTAssertEqual((a["candidate"] as? [String: Any]).flatMap { $0["training"] as? [String: Double] }?["x"], x)

        let told = runAutotune(["tell", "at", "0", "--db", db, "--metrics", "{\"loss\": 0.5, \"cost\": 3}"])
        XCTAssertEqual(told.status, 0, told.stderr)
        XCTAssertEqual(told.stdout, "trial 0: COMPLETE\n")
        let again = runAutotune(["tell", "at", "0", "--db", db, "--metrics", "{\"loss\": 0.5, \"cost\": 3}"])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("trial 0 of study 'at' is already COMPLETE"), again.stderr)
        let missing = runAutotune(["tell", "at", "1", "--db", db, "--metrics", "{\"loss\": 1}"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("study 'at' has no trial 1"), missing.stderr)

        XCTAssertEqual(runAutotune(["ask", space, "--db", db, "--study", "at"]).status, 0)
        // Metrics that miss an objective are refused and the trial stays RUNNING, so the right
        // metrics can still be told.
        let partial = runAutotune(["tell", "at", "1", "--db", db, "--metrics", "{\"loss\": 1, \"cots\": 2}"])
        XCTAssertEqual(partial.status, 2, partial.stderr)
        XCTAssertEqual(partial.stderr, "autotune: error: metric 'cost' missing (study 'at' optimises loss, cost); "
                                       + "trial 1 stays RUNNING. Did you mean 'cost' for 'cots'?\n")
        let infinite = runAutotune(["tell", "at", "1", "--db", db, "--metrics", "{\"loss\": 1e999, \"cost\": 2}"])
        XCTAssertEqual(infinite.status, 2, infinite.stderr)
        XCTAssertTrue(infinite.stderr.contains("metric 'loss' is inf"), infinite.stderr)
        let retold = runAutotune(["tell", "at", "1", "--db", db, "--metrics", "{\"loss\": 1, \"cost\": 2}"])
        XCTAssertEqual(retold.status, 0, retold.stderr)
        XCTAssertEqual(retold.stdout, "trial 1: COMPLETE\n")
        XCTAssertEqual(runAutotune(["ask", space, "--db", db, "--study", "at"]).status, 0)
        let toldJSON = runAutotune(["tell", "at", "2", "--db", db, "--metrics", "{\"loss\": 2, \"cost\": 1}", "--json"])
        XCTAssertEqual(toldJSON.status, 0, toldJSON.stderr)
        let reply = try json(toldJSON.stdout)
        XCTAssertEqual(reply["trial"] as? Int, 2)
        XCTAssertEqual(reply["state"] as? String, "COMPLETE")

        let front = try json(runAutotune(["front", "at", "--db", db, "--json"]).stdout)
        XCTAssertEqual((front["front"] as? [[String: Any]])?.map { $0["trial"] as? Int }, [0, 1, 2])
    }

    /// A training-config study minimising dollars per million tokens: priced on a rented device,
    /// every trial failed with the reason on one that is bought.
    func testMetaStudyCostPerTokenNeedsAPricedProfile() throws {
        func space(_ name: String, hardware: String) -> String {
            write(name + ".json", """
            {"evaluator": {"meta": {"model": {"family": "gpt", "layers": 4, "hidden": 256, "heads": 4, "sequence_length": 128, "vocabulary": 1000},
                                    "hardware": "\(hardware)", "global_batch": 32}},
             "parallelism": {"micro_batch": {"_type": "choice", "_value": [1, 2, 4, 8]}},
             "objectives": {"tokens_per_second": "maximize", "usd_per_mtoken": "minimize"}, "strategy": "grid", "budget": 4}
            """)
        }
        var r = runAutotune(["search", space("rented", hardware: "T4"), "--db", db, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("4 trials (4 complete)"), r.stdout)
        let priced = try trials("rented").compactMap { ($0["metrics"] as? [String: Any])?["usd_per_mtoken"] as? Double }
        XCTAssertEqual(priced.count, 4)
        XCTAssertTrue(priced.allSatisfy { $0 > 0 }, "\(priced)")

        r = runAutotune(["search", space("bought", hardware: "RTX-4090"), "--db", db, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("4 trials (4 fail)"), r.stdout)
        let reasons = Set(try trials("bought").compactMap { $0["message"] as? String })
        XCTAssertEqual(reasons, ["usd_per_mtoken: hardware profile 'RTX-4090' has no price_per_hour_usd (give one in a profile file named by evaluator.meta.hardware, or leave usd_per_mtoken out of the objectives and constraints)"])
    }

    func testAnEngineSpaceTheEngineCannotRunFailsBeforeItsFirstTrial() throws {
        let fixed = #""evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 100}}}, "objectives": {"accuracy": "maximize"}, "budget": 3"#
        let parallel = write("parallel.json", #"{"architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}}, "parallelism": {"dp": 2}, \#(fixed)}"#)
        let typo = write("typo.json", #"{"architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}, "epocs": 2}, \#(fixed)}"#)
        for (space, key) in [(parallel, "parallelism"), (typo, "training.epocs")] {
            let r = runAutotune(["search", space, "--db", db, "--quiet"])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("autotune: error: \(space): \(key): "), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "no store, no study, no trial was written")

        // Strategy options the strategy refuses are found before the store is opened, too.
        let badOptions = write("bad-options.json", #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": {"name": "evolution", "population": 0}}"#)
        for command in [["search", badOptions, "--quiet"], ["ask", badOptions]] {
            let r = runAutotune(command + ["--db", db])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains("strategy.population"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "no store was made")
    }

    func testAStudyWhoseTrialsAllFailStopsAndSaysWhy() throws {
        let missing = write("missing.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}},
         "evaluator": {"command": {"run": ["python3", "/nonexistent/train.py"]}},
         "objectives": {"loss": "minimize"}, "budget": 10}
        """)
        let r = runAutotune(["search", missing, "--db", db, "--study", "m", "--quiet"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: study 'm' stopped after 5 failed trials in a row and none succeeded; the last: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent/train.py"), r.stderr)
        XCTAssertEqual(try trials("m").count, 5, "the budget of 10 was not spent")

        let two = write("two.json", try String(contentsOfFile: missing, encoding: .utf8)
            .replacingOccurrences(of: "\"budget\": 10", with: "\"budget\": 10, \"max_consecutive_failures\": 2"))
        XCTAssertEqual(runAutotune(["search", two, "--db", db, "--study", "m2", "--quiet"]).status, 1)
        XCTAssertEqual(try trials("m2").count, 2)

        // Some failures among successes: the study runs on, and its summary says how many and why.
        let script = write("half.py", """
        import json, sys
        c = json.load(sys.stdin)["training"]
        if c["x"] < 0.5: sys.exit("x too small")
        print(json.dumps({"loss": c["x"]}))
        """)
        let half = write("half.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}},
         "evaluator": {"command": {"run": ["python3", "\(script)"]}},
         "objectives": {"loss": "minimize"}, "strategy": "random", "budget": 8, "seed": 3, "max_consecutive_failures": 0}
        """)
        let done = runAutotune(["search", half, "--db", db, "--study", "h", "--quiet"])
        XCTAssertEqual(done.status, 0, done.stderr)
        let failed = try trials("h").filter { $0["state"] as? String == "FAIL" }.count
        XCTAssertGreaterThan(failed, 0)
        XCTAssertTrue(done.stdout.contains("\(failed) failed; the commonest reason (\(failed) of them): "), done.stdout)
        XCTAssertTrue(done.stdout.contains("x too small"), done.stdout)
    }

    func testBenchmarkReferencePointsComeFromTheFrontAndAZeroHypervolumeIsSaid() throws {
        let dtlz7 = write("dtlz7.json", #"{"evaluator": {"benchmark": {"problem": "dtlz7"}}, "strategy": "random", "budget": 10, "seed": 1}"#)
        let r = runAutotune(["search", dtlz7, "--db", db, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try json(r.stdout)
        // DTLZ7 with 3 objectives: 1.1 × (1, 1, 2·3).
        let reference = try XCTUnwrap(summary["reference_point"] as? [Double])
        for (got, want) in zip(reference, [1.1, 1.1, 6.6]) { XCTAssertEqual(got, want, accuracy: 1e-9) }
        // Ten random points are far from DTLZ7's front (f3 near 10): none dominates it, and that is said.
        XCTAssertEqual(summary["hypervolume"] as? Double, 0)
        XCTAssertTrue(r.stderr.contains("autotune: warning: no trial dominates the reference point (1.100, 1.100, 6.600)"), r.stderr)

        let tight = write("tight.json", #"{"evaluator": {"benchmark": {"problem": "zdt1", "variables": 3}}, "strategy": "random", "budget": 10, "reference_point": {"f1": 0, "f2": 0}}"#)
        let zero = runAutotune(["search", tight, "--db", db, "--quiet"])
        XCTAssertEqual(zero.status, 0, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("autotune: warning: no trial dominates the reference point (0, 0), so the hypervolume is 0"), zero.stderr)
        let front = runAutotune(["front", "tight", "--db", db])
        XCTAssertTrue(front.stderr.contains("no trial dominates the reference point"), front.stderr)
    }

    func testOutputsAreNeverWrittenOverDevicesAndStoresNeedTheirFolder() throws {
        let space = zdtSpace(strategy: "random", budget: 4)
        let missing = (db as NSString).deletingLastPathComponent + "/no-such-folder/s.sqlite"
        let r = runAutotune(["search", space, "--db", missing, "--quiet"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("does not exist; create it first"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: (missing as NSString).deletingLastPathComponent), "no folder made")

        XCTAssertEqual(runAutotune(["search", space, "--db", db, "--study", "o", "--quiet"]).status, 0)
        let fifo = (db as NSString).deletingLastPathComponent + "/out.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for args in [["report", "o", "--out", "/dev/null"], ["report", "o", "--out", fifo], ["plot", "o", "--out", fifo],
                     ["export", "o", "--format", "recipe", "--out", "/dev/null"]] {
            let out = runAutotune(args + ["--db", db])
            XCTAssertEqual(out.status, 2, "\(args): \(out.stderr)")
            XCTAssertTrue(out.stderr.contains("not a regular file or directory to write to"), out.stderr)
        }
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
    }

    func testPlotsOfSameNamedStudiesInTwoStoresDoNotCollideAndCanBeSkipped() throws {
        let space = zdtSpace(strategy: "random", budget: 4)
        let folder = (db as NSString).deletingLastPathComponent
        let a = folder + "/a.sqlite", b = folder + "/b.sqlite"
        for store in [a, b] {
            let r = runAutotune(["search", space, "--db", store, "--study", "same"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/a/same/front.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/b/same/front.png"))
        let skipped = runAutotune(["search", space, "--db", folder + "/c.sqlite", "--study", "same", "--no-plots"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/c/same"), "--no-plots draws nothing")
        XCTAssertFalse(skipped.stderr.contains("plots:"), skipped.stderr)
    }

    func testShowAndFrontGiveEveryParameterAndTheConstraintColumns() throws {
        let script = write("many.py", """
        import json, sys
        c = json.load(sys.stdin)["training"]
        print(json.dumps({"loss": c["p0"], "seconds": 42, "cost": c["p1"]}))
        """)
        var parameters = (0..<12).map { #""p\#($0)": {"_type": "uniform", "_value": [0, 1]}"# }
        parameters.append(#""width": {"_type": "choice", "_value": [8, {"_type": "choice", "_value": [16, 32]}]}"#)
        let space = write("many.json", """
        {"training": {\(parameters.joined(separator: ", "))},
         "evaluator": {"command": {"run": ["python3", "\(script)"]}},
         "objectives": {"loss": "minimize"}, "constraints": [{"metric": "cost", "<=": 0.9}],
         "strategy": "random", "budget": 6, "seed": 2}
        """)
        XCTAssertEqual(runAutotune(["search", space, "--db", db, "--study", "many", "--quiet"]).status, 0)
        let show = runAutotune(["show", "many", "--db", db])
        let header = try XCTUnwrap(show.stdout.split(separator: "\n").first)
        XCTAssertTrue(header.contains("loss") && header.contains("cost") && header.contains("wall time"), String(header))
        XCTAssertFalse(header.contains("seconds"), "a metric called seconds is not the wall-time column")
        XCTAssertTrue(show.stdout.contains("more)"), "cut by default")
        let full = runAutotune(["show", "many", "--db", db, "--full"])
        XCTAssertFalse(full.stdout.contains("more)"), full.stdout)
        XCTAssertTrue(full.stdout.contains("p11="), full.stdout)
        let front = runAutotune(["front", "many", "--db", db, "--full"])
        XCTAssertTrue(front.stdout.contains("p11="), front.stdout)

        // A choice among a value and a distribution: --json gives the value drawn, never "choice(16, 32)".
        let trials = try self.trials("many")
        for t in trials {
            let width = (t["parameters"] as? [String: Any])?["training.width"]
            XCTAssertNotNil(width as? Double, "\(String(describing: width))")
        }
    }

    func testBadInputAndUnknownStudiesExitWithTwo() {
        let bad = write("bad.json", "{\"evaluator\": {\"benchmark\": {\"problem\": \"zdt7\", \"variables\": 5}}}")
        let r = runAutotune(["search", bad, "--db", db])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("autotune: error: \(bad): evaluator.benchmark.problem: unknown benchmark problem 'zdt7'"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)

        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 2), "--db", db, "--study", "zz", "--quiet"]).status, 0)
        let unknown = runAutotune(["show", "zx", "--db", db])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "autotune: error: no study 'zx' in \(db) (studies: zz). Did you mean 'zz'?\n")
        let noStore = runAutotune(["front", "zz", "--db", scratch.appendingPathComponent("none.sqlite").path])
        XCTAssertEqual(noStore.status, 2)
        XCTAssertTrue(noStore.stderr.contains("no such store"), noStore.stderr)
        let directoryStore = runAutotune(["search", zdtSpace(), "--db", scratch.path])
        XCTAssertEqual(directoryStore.status, 2)
        XCTAssertEqual(directoryStore.stderr, "autotune: error: \(scratch.path): cannot open the store: it is a directory\n")
        let badStrategy = runAutotune(["search", zdtSpace(), "--db", db, "--strategy", "nsga3"])
        XCTAssertEqual(badStrategy.status, 2)
        XCTAssertTrue(badStrategy.stderr.contains("Did you mean 'nsga2'?"), badStrategy.stderr)
    }

    func testCommandLearningCurvesDriveEarlyStopping() throws {
        let script = write("curve.py", """
        import json, sys
        x = json.load(sys.stdin)["training"]["x"]
        for step in range(1, 5):
            print(json.dumps({"step": step, "loss": (x - 0.3) ** 2 + 1.0 / step}), flush=True)
        print(json.dumps({"loss": (x - 0.3) ** 2}))
        """)
        let space = write("curve.json", """
        {"training": {"x": {"_type": "uniform", "_value": [0, 1]}},
         "evaluator": {"command": {"run": ["python3", "\(script)"], "timeout": 30}},
         "objectives": {"loss": "minimize"}, "strategy": "random",
         "early_stopping": {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2},
         "budget": 8, "seed": 1}
        """)
        let noMax = runAutotune(["search", space, "--db", db, "--study", "c"])
        XCTAssertEqual(noMax.status, 2)
        XCTAssertEqual(noMax.stderr, "autotune: error: \(space): early_stopping.max_resource: needed when the evaluator has no epoch budget (evaluator.engine.epochs)\n")

        let withMax = write("curve-max.json", try String(contentsOfFile: space, encoding: .utf8)
            .replacingOccurrences(of: "\"reduction_factor\": 2", with: "\"reduction_factor\": 2, \"max_resource\": 4"))
        let r = runAutotune(["search", withMax, "--db", db, "--study", "c", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try trials("c")
        let pruned = all.filter { $0["state"] as? String == "PRUNED" }
        XCTAssertFalse(pruned.isEmpty, "halving stops some of 8 trials")
        for t in pruned {
            XCTAssertLessThan((t["intermediate"] as? [Any])?.count ?? 0, 4, "a stopped trial's curve ends early")
        }
        let complete = all.filter { $0["state"] as? String == "COMPLETE" }
        XCTAssertFalse(complete.isEmpty)
        XCTAssertTrue(complete.allSatisfy { ($0["intermediate"] as? [Any])?.count == 4 })
    }
}
