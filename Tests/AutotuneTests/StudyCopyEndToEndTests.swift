import Foundation
import StoreTesting
import XCTest

/// `autotune copy-study` and `autotune delete-study` through the built executable: between SQLite
/// files, and into and out of a real PostgreSQL server (skipped, saying why, without one).
final class StudyCopyEndToEndTests: ScratchTestCase {
    private var db: String { scratch.appendingPathComponent("studies.sqlite").path }

    private func zdtSpace(budget: Int) -> String {
        write("zdt.json", """
        {"evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "evolution", "budget": \(budget), "seed": 3}
        """)
    }

    /// `show --json` of a study, its trials as (number, state, metrics) for comparing stores.
    private func trials(_ study: String, _ store: [String]) throws -> [String] {
        let r = runAutotune(["show", study, "--json"] + store, in: scratch)
        XCTAssertEqual(r.status, 0, r.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        func sorted(_ value: Any?) -> String {
            guard let members = value as? [String: Any] else { return "\(value ?? "")" }
            return members.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        return try XCTUnwrap(document["trials"] as? [[String: Any]]).map { t in
            "\(t["trial"] ?? "") \(t["state"] ?? "") \(sorted(t["parameters"])) \(sorted(t["objectives"] ?? t["metrics"]))"
        }
    }

    func testAStudyGoesToPostgreSQLGoesOnThereAndComesBack() throws {
        let url = try PostgreSQLTestServer.freshSchema(name)
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 15), "--db", db, "--study", "z", "--quiet", "--no-plots"], in: scratch).status, 0)
        let original = try trials("z", ["--db", db])
        XCTAssertEqual(original.count, 15)

        let copied = runAutotune(["copy-study", "z", "--db", db, "--to", url], in: scratch)
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertEqual(copied.stdout, "copied study 'z' (15 trials) from \(db) to \(url) as 'z'\n")
        XCTAssertEqual(try trials("z", ["--storage", url]), original, "every trial as it was")

        let worked = runAutotune(["worker", "z", "--storage", url, "--budget", "25", "--quiet"], in: scratch)
        XCTAssertEqual(worked.status, 0, worked.stderr)
        let extended = try trials("z", ["--storage", url])
        XCTAssertEqual(extended.count, 25)
        XCTAssertEqual(Array(extended.prefix(15)), original)

        let back = scratch.appendingPathComponent("back.sqlite").path
        let returned = runAutotune(["copy-study", "z", "--storage", url, "--to", back, "--as", "z2", "--json"], in: scratch)
        XCTAssertEqual(returned.status, 0, returned.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(returned.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["trials"] as? Int, 25)
        XCTAssertEqual(summary["copy"] as? String, "z2")
        XCTAssertEqual(try trials("z2", ["--db", back]), extended)

        let deleted = runAutotune(["delete-study", "z", "--storage", url, "--yes"], in: scratch)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertEqual(deleted.stdout, "deleted study 'z' (25 trials) from \(url)\n")
        XCTAssertEqual(try PostgreSQLTestServer.run("SELECT count(*) FROM trials", on: url), ["0"])
    }

    func testACopyNeedsAFreeName() throws {
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 4), "--db", db, "--study", "z", "--quiet", "--no-plots"], in: scratch).status, 0)
        let itself = runAutotune(["copy-study", "z", "--db", db], in: scratch)
        XCTAssertEqual(itself.status, 2)
        XCTAssertEqual(itself.stderr, "autotune: error: study 'z' already exists in \(db); name the copy with --as\n")
        let renamed = runAutotune(["copy-study", "z", "--db", db, "--as", "z-copy"], in: scratch)
        XCTAssertEqual(renamed.status, 0, renamed.stderr)
        XCTAssertEqual(try trials("z-copy", ["--db", db]), try trials("z", ["--db", db]))
        let taken = runAutotune(["copy-study", "z", "--db", db, "--as", "z-copy"], in: scratch)
        XCTAssertEqual(taken.status, 2)
        XCTAssertEqual(taken.stderr, "autotune: error: study 'z-copy' already exists in \(db)\n")
        let badName = runAutotune(["copy-study", "z", "--db", db, "--as", "no spaces"], in: scratch)
        XCTAssertEqual(badName.status, 2)
        XCTAssertTrue(badName.stderr.hasPrefix("autotune: error: invalid value 'no spaces' for '--as'"), badName.stderr)
        let nowhere = runAutotune(["copy-study", "z", "--db", db, "--to", ""], in: scratch)
        XCTAssertEqual(nowhere.status, 2)
        XCTAssertTrue(nowhere.stderr.hasPrefix("autotune: error: invalid value '' for '--to'"), nowhere.stderr)
        let missing = runAutotune(["copy-study", "q", "--db", db, "--as", "q2"], in: scratch)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("autotune: error: no study 'q' in \(db)"), missing.stderr)
    }

    func testDeletingAsksForYesAndLeavesOtherStudies() throws {
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 4), "--db", db, "--study", "a", "--quiet", "--no-plots"], in: scratch).status, 0)
        XCTAssertEqual(runAutotune(["search", zdtSpace(budget: 4), "--db", db, "--study", "b", "--quiet", "--no-plots"], in: scratch).status, 0)
        let unconfirmed = runAutotune(["delete-study", "a", "--db", db], in: scratch)
        XCTAssertEqual(unconfirmed.status, 2)
        XCTAssertEqual(unconfirmed.stderr, "autotune: error: deleting study 'a' (4 trials) from \(db) cannot be undone; add --yes\n")
        XCTAssertEqual(try trials("a", ["--db", db]).count, 4, "nothing deleted")

        let deleted = runAutotune(["delete-study", "a", "--db", db, "--yes"], in: scratch)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        let shown = runAutotune(["show", "a", "--db", db], in: scratch)
        XCTAssertEqual(shown.status, 2)
        XCTAssertTrue(shown.stderr.contains("no study 'a' in \(db) (studies: b)"), shown.stderr)
        XCTAssertEqual(try trials("b", ["--db", db]).count, 4)
        let again = runAutotune(["delete-study", "a", "--db", db, "--yes"], in: scratch)
        XCTAssertEqual(again.status, 2)
    }
}
