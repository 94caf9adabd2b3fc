import Compression
import Engine
import Foundation
import Hardware
import Parallel
import Store

/// One study in a store: the only place a study is created, resumed or opened, and the owner of
/// everything built from its spec — the strategy, the evaluator, early stopping — and of what
/// is read back: its trials, its front and the typed recipe of any trial.
///
///     let (study, _) = try Study.create(spec, named: "q", in: storage, location: "results/autotune.sqlite")
///     let asked = try study.ask(worker: "me")          // claim a trial; evaluate it elsewhere
///     try study.tell(asked!.trial.number, metrics: ["accuracy": 0.91, "flops": 2e6])
///
/// `StudyRunner` is the worker loop over a study; the `search`, `ask`, `tell`, `show`, `front`,
/// `export` and `report` commands are thin layers over this type.
///
/// Opened with its folder (`results/<study>`), an engine study keeps the trained weights of its
/// Pareto-front members in `weights/` (`KeptWeights`, `keep_weights` in the space file): a trial
/// evaluated here writes its file before its result is stored, when it would join the front, and
/// every stored result deletes the files of trials that left it.
public final class Study {
    public let record: StudyRecord
    /// The spec as the study was created (a resumed study keeps its own).
    public let spec: StudySpec
    public let storage: StudyStorage
    /// Where the store is, for messages ("results/autotune.sqlite").
    public let location: String
    /// The study's trials read through its objectives and constraints.
    public let objectives: StudyObjectives
    /// Where the study's plots, exports and kept weights go (`results/<study>`); nil when opened
    /// without one.
    public let folder: String?
    /// The front members' weights this study keeps: nil without a folder, with `keep_weights`
    /// false, or for an evaluator that trains no model here (command, meta, benchmark).
    public let keptWeights: KeptWeights?

    public var name: String { record.name }
    public var id: Int64 { record.id }

    private init(record: StudyRecord, spec: StudySpec, storage: StudyStorage, location: String, folder: String?) {
        self.record = record; self.spec = spec; self.storage = storage; self.location = location; self.folder = folder
        self.objectives = StudyObjectives(objectives: spec.objectives, constraints: spec.constraints)
        if let folder, case .engine = spec.evaluator, case .upTo(let bytes) = spec.keepWeights {
            keptWeights = KeptWeights(folder: (folder as NSString).appendingPathComponent("weights"), limit: bytes)
        } else {
            keptWeights = nil
        }
    }

    // MARK: - Opening

    /// Create the study `name` from `spec`, or resume it when it exists: then every setting that
    /// shapes its trials must be unchanged (the budget and the number of workers may change), and
    /// the error names each one that is not.
    /// - Parameters:
    ///   - joining: only an existing study may be opened (a worker joining it).
    ///   - folder: the study's folder beside its store, where its weights are kept (none: no
    ///     weights are kept).
    /// - Returns: the study and whether it was created now.
    public static func create(_ spec: StudySpec, named name: String, in storage: StudyStorage, location: String,
                              joining: Bool = false, folder: String? = nil) throws -> (Study, created: Bool) {
        try StudySpec.checkName(name)
        // Everything the spec configures is checked before the store is touched, so bad input
        // never leaves a study behind.
        try spec.checkParts()
        if joining, try storage.study(named: name) == nil {
            throw StudyError(.input, "a worker joins an existing study; '\(name)' does not exist in \(location)")
        }
        // `auto` is resolved once, when the study is created, and the choice stored with it: a
        // resumed study or another worker runs what the first run chose, whatever its budget.
        let record = StudyRecord(name: name, space: spec.document.prettyText, objectives: spec.objectives.map(\.metric),
                                 directions: spec.objectives.map(\.direction.rawValue), seed: spec.seed,
                                 strategy: spec.autoStrategy?.name ?? spec.strategy.name)
        let (stored, created) = try storage.openStudy(record)
        if created { return (Study(record: stored, spec: spec, storage: storage, location: location, folder: folder), true) }
        let existing = try storedSpec(of: stored)
        let changes = spec.changes(from: existing)
        guard changes.isEmpty else {
            throw StudyError(.input, "cannot resume '\(name)': it already exists in \(location) with other settings: "
                                     + changes.joined(separator: "; ") + " (resume it unchanged, or choose a new study name)")
        }
        // The budget and workers given now apply to this run.
        var resumed = existing
        resumed.budget = spec.budget
        resumed.workers = spec.workers
        resumed.keepWeights = spec.keepWeights
        return (Study(record: stored, spec: resumed, storage: storage, location: location, folder: folder), false)
    }

    /// The existing study `name`, or an error listing the studies there are (with the closest
    /// name when it looks like a typo). `folder` is where its weights are kept (see `create`).
    public static func open(_ name: String, in storage: StudyStorage, location: String, folder: String? = nil) throws -> Study {
        guard let record = try storage.study(named: name) else {
            let names = try storage.studies().map(\.study.name)
            var reason = "no study '\(name)' in \(location)"
            reason += names.isEmpty ? " (it holds no studies yet)" : " (studies: \(names.joined(separator: ", ")))"
            if let near = closestMatch(to: name, among: names) { reason += ". Did you mean '\(near)'?" }
            throw StudyError(.input, reason)
        }
        return Study(record: record, spec: try storedSpec(of: record), storage: storage, location: location, folder: folder)
    }

    /// The spec stored with a study, read again from its space document.
    private static func storedSpec(of record: StudyRecord) throws -> StudySpec {
        do {
            return try SpaceFile.parse(Data(record.space.utf8), file: "the space stored with study '\(record.name)'")
        } catch let e as InputFileError {
            throw StudyError(.runtime, "the stored space of study '\(record.name)' no longer parses: \(e.reason)")
        }
    }

    // MARK: - Parts

    /// The strategy that runs: the one the spec names, with its options, seeded by the study's
    /// seed — for `auto`, the one chosen when the study was created (`record.strategy`).
    public func makeStrategy() throws -> Strategy {
        guard spec.strategy.name == "auto", record.strategy != "auto" else { return try spec.makeStrategy() }
        var chosen = spec
        chosen.strategy = StrategySpec(name: record.strategy)
        return try chosen.makeStrategy()
    }

    /// The evaluator the spec names.
    /// - Parameters:
    ///   - threads: threads each engine training run may use (nil: all cores).
    ///   - dataDirectory: where an engine study's data files are, over the spec's `data.dir`.
    public func makeEvaluator(threads: Int? = nil, dataDirectory: String? = nil) throws -> Evaluator {
        switch spec.evaluator {
        case .benchmark(let problem, let variables, let objectives):
            return BenchmarkEvaluator(try BenchmarkProblem(name: problem, variables: variables, objectives: objectives))
        case .engine(let data, let epochs):
            var data = data
            if let dir = dataDirectory, case .object(var members) = data {
                members.removeAll { $0.key == "dir" }
                members.append(.init("dir", .string(dir)))
                data = .object(members)
            }
            return EngineEvaluator(data: data, epochs: epochs, threads: threads, hardware: try spec.hardwareProfiles(),
                                   keepsModels: keptWeights != nil)
        case .command(let command):
            return CommandEvaluator(command)
        case .meta(let meta):
            return MetaEvaluator(model: meta.model, cluster: meta.cluster, globalBatch: meta.globalBatch,
                                 requested: Set(spec.objectives.map(\.metric) + spec.constraints.map(\.metric)))
        }
    }

    /// A factory for the spec's early stopping (nil without one): several workers rebuild it from
    /// everyone's learning curves.
    public func makeEarlyStopping() throws -> (() throws -> EarlyStopping)? { try spec.makeEarlyStopping() }

    // MARK: - Ask and tell

    /// A claimed trial: its number, its configuration and the candidate it stands for.
    public struct AskedTrial {
        public var trial: TrialRecord
        public var configuration: Configuration
        public var parameters: [(name: String, value: JSONValue)]
        public var candidate: JSONValue
    }

    /// The configuration a stored trial evaluated, or nil when its parameters no longer fit the
    /// space.
    public func configuration(of trial: TrialRecord) -> Configuration? {
        try? spec.space.configuration(from: trial.parameters)
    }

    /// Tell `strategy` a finished trial (a STALE trial, which has no outcome of its own, and a
    /// trial whose parameters no longer fit are skipped).
    public func teach(_ strategy: Strategy, _ trial: TrialRecord) {
        guard trial.state.hasOutcome, let c = configuration(of: trial) else { return }
        strategy.tell(objectives.result(trial, configuration: c))
    }

    /// Claim the next trial for `worker`: a queued re-run first, else what `strategy` proposes —
    /// unless the trial budget is spent or a finite strategy has run out (nil).
    public func claim(worker: String, strategy: Strategy) throws -> AskedTrial? {
        var proposed: Configuration?
        let claimed: TrialRecord?
        do {
            claimed = try storage.claimTrial(study: id, worker: worker, limit: spec.budget.trials) { number in
                let c = try strategy.ask(number: number)
                proposed = c
                return spec.space.parameterRecords(c)
            }
        } catch StrategyError.exhausted {
            return nil
        }
        guard let trial = claimed else { return nil }
        let configuration = try (trial.retryOf == nil ? proposed : nil) ?? spec.space.configuration(from: trial.parameters)
        return AskedTrial(trial: trial, configuration: configuration, parameters: spec.space.parameters(configuration),
                          candidate: spec.space.materialize(configuration))
    }

    /// Claim a trial for an outside evaluation (`autotune ask`): a strategy told every finished
    /// trial proposes it.
    /// - Throws: `StudyError` when the budget is spent.
    public func ask(worker: String) throws -> AskedTrial {
        let strategy = try makeStrategy()
        for t in try trials() { teach(strategy, t) }
        guard let asked = try claim(worker: worker, strategy: strategy) else {
            throw StudyError(.runtime, "study '\(name)' has spent its budget of \(spec.budget.trials.map(String.init) ?? "?") trials")
        }
        return asked
    }

    /// Finish a RUNNING trial with the metrics an outside evaluation measured. Metrics that do not
    /// name every objective, or are not finite, are refused and the trial stays RUNNING, so the
    /// caller can tell it again. A trial that went STALE meanwhile refuses the result and keeps it
    /// as a note.
    /// - Returns: the state the trial ended in and why (for INFEASIBLE, the violation).
    @discardableResult
    public func tell(_ number: Int, metrics: [String: Double]) throws -> (state: TrialState, message: String?) {
        _ = try reportableTrial(number)
        if let bad = metrics.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
            throw StudyError(.input, "metric '\(bad.key)' is \(bad.value); give a finite number, or fail the trial")
        }
        let missing = spec.objectives.map(\.metric).filter { metrics[$0] == nil }
        if let first = missing.first {
            var reason = "metric '\(first)' missing (study '\(name)' optimises \(spec.objectives.map(\.metric).joined(separator: ", "))); "
                + "trial \(number) stays RUNNING"
            let unused = metrics.keys.filter { k in !spec.objectives.contains { $0.metric == k } }.sorted()
            if let near = closestMatch(to: first, among: unused) { reason += ". Did you mean '\(first)' for '\(near)'?" }
            throw StudyError(.input, reason)
        }
        let verdict = objectives.verdict(metrics)
        try lateResultRefused(number) {
            try finish(number, state: verdict.state, metrics: metrics, violation: verdict.violation, message: verdict.message)
        }
        return (verdict.state, verdict.message)
    }

    /// Fail a RUNNING trial with `reason` (kept as a note when the trial went STALE meanwhile).
    public func fail(_ number: Int, reason: String) throws {
        _ = try reportableTrial(number)
        try lateResultRefused(number) { try finish(number, state: .fail, metrics: [:], violation: 0, message: reason) }
    }

    /// Runs `store`, turning the store's refusal of a STALE trial's result into the study's error.
    private func lateResultRefused(_ number: Int, _ store: () throws -> Void) throws {
        do { try store() } catch let e as StoreError where e.kind == .leaseExpired {
            throw StudyError(.input, "trial \(number) of study '\(name)' is STALE: its lease expired before the result came, "
                                     + "and it is run again; the result was refused and kept as a note on the trial")
        }
    }

    /// Store the end of RUNNING trial `number`: the one place a result is recorded (`tell`,
    /// `fail` and `StudyRunner` come here). When the study keeps weights, `model` (the trial's
    /// final model) is written first if the trial joins the front with these metrics, and once
    /// the result is stored, the files of trials no longer on the front are deleted.
    ///
    /// A model that cannot be kept faithfully, or a folder that cannot be written, leaves the
    /// trial without kept weights (its export trains it again); the result is stored all the same.
    public func finish(_ number: Int, state: TrialState, metrics: [String: Double], violation: Double, message: String?,
                       model: FinalModel? = nil) throws {
        guard let kept = keptWeights else {
            try storage.finishTrial(study: id, number: number, state: state, metrics: metrics, violation: violation, message: message)
            return
        }
        var all = try trials()
        if let k = all.firstIndex(where: { $0.number == number }) {
            all[k].state = state; all[k].metrics = metrics; all[k].violation = violation
        }
        let front = Set(objectives.front(all).map(\.number))
        if let model, front.contains(number), let trial = all.first(where: { $0.number == number }) {
            _ = try? kept.write(try model.file(owner: owner(of: trial)), trial: number)
        }
        try storage.finishTrial(study: id, number: number, state: state, metrics: metrics, violation: violation, message: message)
        // Judged on this view of the trials only: one claimed and finished since it was read
        // is for its own worker's pruning to judge.
        kept.prune(front: front, finished: Set(all.filter(\.state.isFinished).map(\.number)))
    }

    /// Trial `number`, when a result may be reported for it: RUNNING, or STALE (the store keeps a
    /// late result as a note).
    private func reportableTrial(_ number: Int) throws -> TrialRecord {
        guard let trial = try storage.trial(study: id, number: number) else {
            throw StudyError(.input, "study '\(name)' has no trial \(number)")
        }
        guard trial.state == .running || trial.state == .stale else {
            throw StudyError(.input, "trial \(number) of study '\(name)' is already \(trial.state.rawValue)")
        }
        return trial
    }

    // MARK: - Kept weights

    /// What a kept file of `trial` says it belongs to: the study, the trial, the FNV-1a hash of
    /// its recipe document (data, epochs and everything fixed in the space included) and its
    /// parameters — so a file left by an older study of the same name never passes for this one's.
    func owner(of trial: TrialRecord) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ((try? recipe(of: trial))?.document.compactText ?? "").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "study '\(name)', trial \(trial.number), recipe \(String(hash, radix: 16)): "
            + trial.parameters.map { "\($0.name)=\($0.json)" }.joined(separator: ", ")
    }

    /// The final model of engine trial `trial` as its kept file rebuilds it, with no training.
    /// - Throws: `WeightsNotKept` saying why there is none: the study keeps no weights here, the
    ///   trial has no file (it was not on the front when it finished, left it, or did not fit the
    ///   bound), or its file is unreadable or belongs to another trial.
    public func keptModel(of trial: TrialRecord) throws -> TrainedModel {
        guard let folder else { throw WeightsNotKept("study '\(name)' was opened without its folder") }
        let kept = keptWeights ?? KeptWeights(folder: (folder as NSString).appendingPathComponent("weights"), limit: 0)
        let path = kept.path(of: trial.number)
        guard let bytes = kept.read(trial: trial.number) else {
            var reason = "no file \(path)"
            if keptWeights == nil {
                if case .engine = spec.evaluator { reason += "; keep_weights is false" } else {
                    reason += "; a \(spec.evaluator.name) study trains no model here"
                }
            }
            throw WeightsNotKept(reason)
        }
        let model: TrainedModel
        do { model = try TrainedModelFile.decode(bytes) } catch let p as TrainedModelFile.Problem {
            throw WeightsNotKept("\(path): \(p.reason)")
        }
        guard model.owner == owner(of: trial) else { throw WeightsNotKept("\(path) holds another model (\(model.owner))") }
        return model
    }

    // MARK: - Reading

    /// Every trial, in number order.
    public func trials() throws -> [TrialRecord] {
        try storage.trials(study: id, finishedAfter: nil)
    }

    /// The Pareto front under constrained domination (the best trial for one objective).
    public func front() throws -> [TrialRecord] {
        objectives.front(try trials())
    }

    /// What trial `trial` evaluated, typed: the engine recipe `autotune eval` reruns, the meta
    /// plan `autotune estimate` prices, or the parameters of a benchmark or command trial.
    public func recipe(of trial: TrialRecord) throws -> TrialRecipe {
        func fail(_ reason: String) -> StudyError { StudyError(.input, "trial \(trial.number) of study '\(name)': \(reason)") }
        let candidate: JSONValue
        do { candidate = spec.space.materialize(try spec.space.configuration(from: trial.parameters)) }
        catch let e as EvaluationError { throw fail(e.reason) }
        switch spec.evaluator {
        case .engine(let data, let epochs):
            do {
                let (document, recipe) = try EngineEvaluator.recipe(candidate, data: data, epochs: epochs)
                return .engine(document: document, recipe: recipe)
            } catch let e as EvaluationError { throw fail("its recipe does not decode: \(e.reason)") }
        case .meta(let meta):
            do {
                var plan = try MetaEvaluator.plan(candidate, devices: meta.cluster.devices)
                plan.gradientAccumulation = try plan.validate(meta.model, devices: meta.cluster.devices, globalBatch: meta.globalBatch)
                return .meta(MetaRecipe(evaluator: meta, plan: plan))
            } catch let e as EvaluationError { throw fail(e.reason) }
            catch let e as PlanError { throw fail("its plan does not fit: \(e.description)") }
        case .benchmark, .command:
            return .parameters(candidate)
        }
    }
}

/// Why a trial's kept weights cannot be used, on one line.
public struct WeightsNotKept: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A study request that cannot be met: bad input (exit 2) or a failure at run time (exit 1).
public struct StudyError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable { case input, runtime }
    public let kind: Kind
    public let reason: String
    public init(_ kind: Kind, _ reason: String) { self.kind = kind; self.reason = reason }
    public var description: String { reason }
}
