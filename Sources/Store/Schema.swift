import Foundation

/// The store's tables, their version, and how lists are kept in a column.
///
/// Conventions: times are REAL unix seconds; a study's `seed` (a `UInt64`) is kept as the signed
/// integer with the same bit pattern; every REAL value column holds NULL for NaN (SQLite stores a
/// bound NaN as NULL); lists (objective names, directions, the reference point, a queued re-run's
/// parameters) are JSON text.
enum Schema {
    /// The version this code writes and understands. Raise it with every change to `tables`, and
    /// teach `open` to upgrade a file of the previous version.
    static let version = 5

    static let tables = """
        CREATE TABLE schema_version (
            version INTEGER NOT NULL
        );
        CREATE TABLE studies (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            space TEXT NOT NULL,
            objectives TEXT NOT NULL,
            directions TEXT NOT NULL,
            reference_point TEXT,
            seed INTEGER NOT NULL,
            strategy TEXT NOT NULL,
            created REAL NOT NULL
        );
        \(trialsTable("trials"))
        \(trialIndexes)
        CREATE TABLE trial_params (
            study_id INTEGER NOT NULL,
            number INTEGER NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            json TEXT NOT NULL,
            PRIMARY KEY (study_id, number, position),
            FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
        ) WITHOUT ROWID;
        CREATE TABLE trial_metrics (
            study_id INTEGER NOT NULL,
            number INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (study_id, number, name),
            FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
        ) WITHOUT ROWID;
        CREATE TABLE trial_intermediate (
            study_id INTEGER NOT NULL,
            number INTEGER NOT NULL,
            step INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (study_id, number, step, name),
            FOREIGN KEY (study_id, number) REFERENCES trials (study_id, number)
        ) WITHOUT ROWID;
        CREATE TABLE retry_queue (
            id INTEGER PRIMARY KEY,
            study_id INTEGER NOT NULL REFERENCES studies (id),
            retry_of INTEGER NOT NULL,
            params TEXT NOT NULL,
            UNIQUE (study_id, retry_of)
        );
        CREATE INDEX retry_queue_by_study ON retry_queue (study_id, id);
        \(benchTables)
        """

    /// The trials table under `name`. Version 5 added the STALE state and `notes` (a JSON list of
    /// the reports that came after the trial went STALE; NULL when none).
    static func trialsTable(_ name: String) -> String {
        """
        CREATE TABLE \(name) (
            study_id INTEGER NOT NULL REFERENCES studies (id),
            number INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'INFEASIBLE', 'STALE')),
            started REAL NOT NULL,
            finished REAL,
            heartbeat REAL NOT NULL,
            worker TEXT NOT NULL,
            message TEXT,
            violation REAL,
            retry_of INTEGER,
            finish_seq INTEGER,
            notes TEXT,
            PRIMARY KEY (study_id, number)
        ) WITHOUT ROWID;
        """
    }

    static let trialIndexes = """
        CREATE INDEX trials_running ON trials (study_id, heartbeat) WHERE state = 'RUNNING';
        CREATE INDEX trials_by_finish ON trials (study_id, finish_seq) WHERE finish_seq IS NOT NULL;
        CREATE UNIQUE INDEX trials_finish_seq ON trials (finish_seq) WHERE finish_seq IS NOT NULL;
        CREATE INDEX trials_retries ON trials (study_id, retry_of) WHERE retry_of IS NOT NULL;
        """

    /// Version 5: the trials table again with the STALE state in its CHECK and the `notes`
    /// column (SQLite alters neither in place: the table is rebuilt, as
    /// https://sqlite.org/lang_altertable.html#otheralter describes, with foreign keys off), and
    /// a dead or interrupted worker's trial that version 4 stored as FAIL and queued to run again
    /// becomes STALE.
    static let staleState = """
        \(trialsTable("trials_v5"))
        INSERT INTO trials_v5 (study_id, number, state, started, finished, heartbeat, worker, message, violation, retry_of, finish_seq)
            SELECT study_id, number, state, started, finished, heartbeat, worker, message, violation, retry_of, finish_seq FROM trials;
        DROP TABLE trials;
        ALTER TABLE trials_v5 RENAME TO trials;
        \(trialIndexes)
        \(rerunFailuresBecomeStale)
        """

    /// A FAIL trial that was re-run or is queued to be is a lost worker's (version 4 and older).
    static let rerunFailuresBecomeStale = """
        UPDATE trials SET state = 'STALE' WHERE state = 'FAIL' AND (
            EXISTS (SELECT 1 FROM trials AS r WHERE r.study_id = trials.study_id AND r.retry_of = trials.number)
            OR EXISTS (SELECT 1 FROM retry_queue AS q WHERE q.study_id = trials.study_id AND q.retry_of = trials.number));
        """

    /// Version 2 kept a snapshot of each study's front (`study_front`); version 4 drops it, since
    /// every reader computes the front from the trials, which is never stale.
    static let droppedFrontTable = "DROP TABLE IF EXISTS study_front;"

    /// Version 3: the history of benchmark runs (`autotune bench nightly`) and their results.
    static let benchTables = """
        CREATE TABLE bench_runs (
            id INTEGER PRIMARY KEY,
            suite TEXT NOT NULL,
            started REAL NOT NULL,
            finished REAL,
            state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'FAILED')),
            commit_id TEXT NOT NULL,
            host_fingerprint TEXT NOT NULL,
            host TEXT NOT NULL,
            toolchain TEXT NOT NULL
        );
        CREATE INDEX bench_runs_by_host ON bench_runs (host_fingerprint, state, id);
        CREATE TABLE bench_results (
            run_id INTEGER NOT NULL REFERENCES bench_runs (id),
            suite TEXT NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            unit TEXT NOT NULL,
            better TEXT NOT NULL CHECK (better IN ('lower', 'higher')),
            UNIQUE (run_id, suite, name)
        );
        """

    /// Sets the connection up (WAL, foreign keys) and creates the tables in an empty file, or
    /// checks the version of an existing store.
    ///
    /// `synchronous=NORMAL` in WAL mode loses nothing when a process is killed; only a power cut
    /// may lose the last transactions (https://sqlite.org/pragma.html#pragma_synchronous).
    static func open(_ db: SQLiteConnection) throws {
        // Small pages: a trial's claim and finish touch about nine pages, and every one is written
        // to the log whole, so 1 KiB pages make each transaction cheaper (measured: about a third
        // less time per trial than 4 KiB). Only takes effect in a new file.
        // Foreign keys are turned on once the schema is current: upgrading to version 5 rebuilds
        // the trials table, which other tables refer to.
        try db.script("""
            PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = OFF; PRAGMA wal_autocheckpoint = 4000;
            """)
        defer { try? db.script("PRAGMA foreign_keys = ON") }
        try db.transaction(immediate: true) {
            var tables: [String] = []
            try db.query("SELECT name FROM sqlite_master WHERE type = 'table'") { tables.append($0.text(0)) }
            if tables.isEmpty {
                try db.script(Schema.tables)
                try db.execute("INSERT INTO schema_version (version) VALUES (?1)", [version])
                return
            }
            guard tables.contains("schema_version") else {
                throw StoreError(file: db.path, kind: .cannotOpen,
                                 reason: "an SQLite database, but not an autotune store (it has no schema_version table)")
            }
            var stored: [Int] = []
            try db.query("SELECT version FROM schema_version") { stored.append($0.int(0)) }
            guard stored.count == 1, let found = stored.first, found >= 1 else {
                throw StoreError(file: db.path, kind: .corrupt,
                                 reason: "store schema version is unreadable (schema_version holds \(stored))")
            }
            if found > version {
                throw StoreError(file: db.path, kind: .schemaTooNew,
                                 reason: "store schema version \(found) is newer than this autotune understands (\(version))")
            }
            if found < version {
                if found < 3 { try db.script(benchTables) }
                if found < 4 { try db.script(droppedFrontTable) }
                if found < 5 {
                    try db.script(staleState)
                    var broken = 0
                    try db.query("PRAGMA foreign_key_check") { _ in broken += 1 }
                    guard broken == 0 else {
                        throw StoreError(file: db.path, kind: .corrupt,
                                         reason: "cannot upgrade the store to schema version 5: \(broken) rows refer to rows that do not exist")
                    }
                }
                try db.execute("UPDATE schema_version SET version = ?1", [version])
            }
        }
    }
}

/// JSON text for the list columns; non-finite numbers are written as the strings "NaN",
/// "Infinity" and "-Infinity" so every `Double` round-trips.
enum ColumnJSON {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }()

    static func encode<T: Encodable>(_ value: T, file: String) throws -> String {
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw StoreError(file: file, kind: .invalidArgument, reason: "cannot write \(T.self) as JSON: \(error)")
        }
    }

    /// Decodes `text` from the column `what` names ("study 'mnist' objectives").
    static func decode<T: Decodable>(_ type: T.Type, from text: String, what: String, file: String) throws -> T {
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError(file: file, kind: .corrupt, reason: "\(what) is not valid JSON for \(T.self): \(text.prefix(80))")
        }
    }
}

/// A queued re-run's parameter, as JSON in `retry_queue.params`.
struct QueuedParameter: Codable {
    var name: String
    var value: Double
    var json: String

    init(_ record: ParameterRecord) { name = record.name; value = record.value; json = record.json }
    var record: ParameterRecord { ParameterRecord(name: name, value: value, json: json) }
}

/// A trial's note, as JSON in `trials.notes` (times as unix seconds).
struct StoredNote: Codable {
    var time: Double
    var kind: TrialNote.Kind
    var step: Int?
    var state: TrialState?
    var metrics: [String: Double]
    var message: String?

    init(_ note: TrialNote) {
        time = note.time.timeIntervalSince1970; kind = note.kind; step = note.step; state = note.state
        metrics = note.metrics; message = note.message
    }

    var note: TrialNote {
        TrialNote(time: Date(timeIntervalSince1970: time), kind: kind, step: step, state: state, metrics: metrics, message: message)
    }

    /// The notes column's text for `notes` (nil for none).
    static func column(_ notes: [TrialNote], file: String) throws -> String? {
        notes.isEmpty ? nil : try ColumnJSON.encode(notes.map(StoredNote.init), file: file)
    }

    /// The notes a column holds.
    static func notes(_ text: String?, trial: Int, file: String) throws -> [TrialNote] {
        guard let text else { return [] }
        return try ColumnJSON.decode([StoredNote].self, from: text, what: "notes of trial \(trial)", file: file).map(\.note)
    }
}
