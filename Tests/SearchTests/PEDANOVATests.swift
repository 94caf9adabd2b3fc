import Engine
import Foundation
import Store
import XCTest
@testable import Search

/// PED-ANOVA parameter importance: the ranking on objectives whose important parameters are
/// known, categorical and conditional parameters, directions, determinism, and too few trials.
final class PEDANOVATests: XCTestCase {
    private func space(_ training: String, objectives: String = #"{"loss": "minimize"}"#) throws -> SearchSpace {
        try SpaceFile.parse(Data(#"{"training": \#(training), "evaluator": {"command": {"run": "true"}}, "objectives": \#(objectives)}"#.utf8),
                            file: "space.json").space
    }

    /// `count` COMPLETE trials drawn from the prior, each scored by `metrics` of its candidate's
    /// `training` object.
    private func trials(_ space: SearchSpace, count: Int, seed: UInt64 = 3,
                        metrics: ([String: JSONValue]) -> [String: Double]) -> [TrialRecord] {
        var rng = RandomSource(seed: seed)
        return (0..<count).map { n in
            let c = space.sample(using: &rng)
            var training: [String: JSONValue] = [:]
            if case .object(let members)? = space.materialize(c)["training"] { for m in members { training[m.key] = m.value } }
            return TrialRecord(study: 1, number: n, state: .complete, parameters: space.parameterRecords(c), metrics: metrics(training),
                               started: Date(timeIntervalSince1970: 0), heartbeat: Date(timeIntervalSince1970: 0), worker: "w")
        }
    }

    private func number(_ v: JSONValue?) -> Double { if case .number(let x)? = v { return x }; return .nan }
    private func shares(_ r: ObjectiveImportance) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: r.parameters.map { ($0.name, $0.importance) })
    }

    private let synthetic = #"""
    {"x1": {"_type": "uniform", "_value": [0, 1]}, "x2": {"_type": "uniform", "_value": [0, 1]},
     "x3": {"_type": "uniform", "_value": [0, 1]},
     "c1": {"_type": "choice", "_value": ["a", "b", "c"]}, "c2": {"_type": "choice", "_value": ["p", "q", "r"]}}
    """#

    /// f = 10·x1² + x2 + 0·x3 + [c1 = c] on 1,000 random trials: x1 first,
    /// then x2, the irrelevant x3 and c2 near zero, c1 clearly above them.
    func testSyntheticObjectiveRanksTheParametersItDependsOn() throws {
        let space = try space(synthetic)
        let all = trials(space, count: 1000) { t in
            guard case .string(let c1)? = t["c1"] else { return [:] }
            return ["loss": 10 * pow(number(t["x1"]), 2) + number(t["x2"]) + 0 * number(t["x3"]) + (c1 == "c" ? 1 : 0)]
        }
        let result = try StudyImportance.compute(trials: all, space: space, objectives: [Objective("loss", .minimize)])
        XCTAssertEqual(result.count, 1)
        let s = shares(result[0])
        print("synthetic importances:", result[0].parameters.map { "\($0.name)=\(String(format: "%.3f", $0.importance))" }.joined(separator: " "))
        XCTAssertEqual(result[0].parameters.map(\.importance).reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(result[0].parameters.first?.name, "training.x1")
        XCTAssertGreaterThan(s["training.x1"]!, s["training.x2"]!)
        XCTAssertGreaterThan(s["training.x2"]!, 3 * s["training.x3"]!)
        XCTAssertLessThan(s["training.x3"]!, 0.05)
        XCTAssertLessThan(s["training.c2"]!, 0.05)
        XCTAssertGreaterThan(s["training.c1"]!, 3 * max(s["training.x3"]!, s["training.c2"]!))
        XCTAssertEqual(result[0].trials, 1000)
        XCTAssertEqual(result[0].topTrials, 100)
    }

    /// The same trials in another order give the same numbers, bit for bit; a maximised metric
    /// ranks by its own direction.
    func testDeterministicOrderFreeAndDirectional() throws {
        let space = try space(synthetic)
        let all = trials(space, count: 120) { t in ["loss": 10 * pow(number(t["x1"]), 2) + number(t["x2"]), "score": -number(t["x2"])] }
        let objectives = [Objective("loss", .minimize), Objective("score", .maximize)]
        let a = try StudyImportance.compute(trials: all, space: space, objectives: objectives)
        let b = try StudyImportance.compute(trials: all.reversed(), space: space, objectives: objectives)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.map(\.objective.metric), ["loss", "score"])
        // score is maximised: the best trials have small x2, so x2 explains it alone.
        XCTAssertEqual(a[1].parameters.first?.name, "training.x2")
        XCTAssertGreaterThan(a[1].parameters.first!.importance, 0.6)
        XCTAssertEqual(a[0].parameters.first?.name, "training.x1")
    }

    /// Integer and log-uniform parameters are read in their own (transformed) coordinates.
    func testIntegerAndLogUniformParameters() throws {
        let space = try space(#"{"layers": {"_type": "randint", "_value": [1, 9]}, "lr": {"_type": "loguniform", "_value": [0.0001, 1]}, "noise": {"_type": "randint", "_value": [0, 100]}}"#)
        // Good trials need 3 or 4 layers and a learning rate within a decade of 0.001.
        let all = trials(space, count: 300) { t in
            let layers = number(t["layers"]), lr = number(t["lr"])
            return ["loss": (layers == 3 || layers == 4 ? 0 : 1) + abs(log10(lr) + 3)]
        }
        let s = shares(try StudyImportance.compute(trials: all, space: space, objectives: [Objective("loss", .minimize)])[0])
        XCTAssertGreaterThan(s["training.lr"]!, 0.2)
        XCTAssertGreaterThan(s["training.layers"]!, 0.2)
        XCTAssertLessThan(s["training.noise"]!, 0.08)
        // In log space 0.01 is the middle of [1e-4, 1].
        XCTAssertEqual(ImportanceColumn(domain: space.dimensions[1].domain, values: []).coordinate(0.01), 0.5, accuracy: 1e-12)
    }

    /// A conditional parameter counts only where its option is chosen: one that decides its
    /// branch matters, one whose branch never makes the best trials gets exactly 0.
    func testInactiveConditionalParametersAreLeftOut() throws {
        let space = try space(#"""
        {"model": {"_type": "choice", "_value": [
            {"name": "a", "depth": {"_type": "randint", "_value": [1, 8]}},
            {"name": "b", "width": {"_type": "uniform", "_value": [0, 1]}}]},
         "other": {"_type": "uniform", "_value": [0, 1]}}
        """#)
        // Model a is always better; within it, depth 1 or 2 is best. b's width does nothing.
        let all = trials(space, count: 300) { t in
            let depth = number(t["model"]?["depth"])
            return ["loss": depth.isNaN ? 10 + number(t["model"]?["width"]) * 0 : (depth <= 2 ? 0 : 1) + number(t["other"]) * 0.01]
        }
        XCTAssertTrue(all.contains { $0.parameters.contains { $0.name == "training.model.width" } })
        let result = try StudyImportance.compute(trials: all, space: space, objectives: [Objective("loss", .minimize)])[0]
        let s = shares(result)
        XCTAssertEqual(Set(s.keys), ["training.model", "training.model.depth", "training.model.width", "training.other"])
        XCTAssertEqual(s["training.model.width"], 0, "width is never active among the best trials")
        XCTAssertGreaterThan(s["training.model.depth"]!, s["training.other"]!)
        XCTAssertGreaterThan(s["training.model"]!, 0.1)
    }

    /// Several objectives are measured each on its own; only COMPLETE trials count.
    func testEachObjectiveOnItsOwnAndOnlyCompleteTrials() throws {
        let space = try space(synthetic)
        var all = trials(space, count: 100) { t in ["f1": number(t["x1"]), "f2": number(t["x3"])] }
        // Infeasible and failed trials with "perfect" values must not move anything.
        let before = try StudyImportance.compute(trials: all, space: space, objectives: [Objective("f1", .minimize), Objective("f2", .minimize)])
        for k in 0..<30 { all[k].state = k % 2 == 0 ? .infeasible : .fail; all[k].metrics = ["f1": -1, "f2": -1] }
        let after = try StudyImportance.compute(trials: all, space: space, objectives: [Objective("f1", .minimize), Objective("f2", .minimize)])
        XCTAssertEqual(before.map { $0.parameters.first?.name }, ["training.x1", "training.x3"])
        XCTAssertEqual(after.map { $0.parameters.first?.name }, ["training.x1", "training.x3"])
        XCTAssertEqual(after[0].trials, 70)
    }

    /// Fewer complete trials than the top 10% needs is one clear error; the minimum itself works.
    func testTooFewTrialsIsOneClearError() throws {
        let space = try space(synthetic)
        let all = trials(space, count: 20) { t in ["loss": number(t["x1"])] }
        XCTAssertEqual(PEDANOVA().minimumTrials, 20)
        XCTAssertNoThrow(try StudyImportance.compute(trials: all, space: space, objectives: [Objective("loss", .minimize)]))
        XCTAssertThrowsError(try StudyImportance.compute(trials: Array(all.prefix(19)), space: space,
                                                         objectives: [Objective("loss", .minimize)], study: "study 'q'")) {
            XCTAssertEqual("\($0)", "study 'q' has 19 complete trials with 'loss'; parameter importance needs at least 20 "
                                    + "(the best 10% must hold 2)")
            XCTAssertEqual(($0 as? StudyError)?.kind, .input)
        }
    }

    /// A space without decisions has nothing to rank: one clear error.
    func testSpaceWithoutParametersIsOneClearError() throws {
        let fixed = try space(#"{"lr": 0.1}"#)
        XCTAssertTrue(fixed.isEmpty)
        XCTAssertThrowsError(try StudyImportance.compute(trials: trials(fixed, count: 30) { _ in ["loss": 1] }, space: fixed,
                                                         objectives: [Objective("loss", .minimize)], study: "study 'q'")) {
            XCTAssertEqual("\($0)", "study 'q' searches no parameters: there is nothing to rank")
        }
    }

    /// An objective every trial ties on says nothing: all importances are 0, not a division by 0.
    func testTiedObjectiveGivesZeros() throws {
        let space = try space(synthetic)
        let all = trials(space, count: 50) { _ in ["loss": 1] }
        let result = try StudyImportance.compute(trials: all, space: space, objectives: [Objective("loss", .minimize)])[0]
        XCTAssertEqual(result.parameters.map(\.importance), [0, 0, 0, 0, 0])
        XCTAssertEqual(result.topTrials, 50)
    }

    /// The divergence of a density from itself is 0; a top set all on one option of K has the
    /// largest divergence the bandwidth allows, and p/q never exceeds |region| / |target|.
    func testPearsonDivergenceOfTheEstimators() {
        let support = MarginalDensity.Support.categorical(options: 4)
        let region = (0..<40).map { Double($0 % 4) }, target = [0.0, 0, 0, 0]
        let b = support.bandwidth(for: target)
        let p = MarginalDensity(support, observations: target, bandwidth: b)
        let q = MarginalDensity(support, observations: region, bandwidth: b)
        XCTAssertEqual(q.pearsonDivergence(from: q), 0, accuracy: 1e-12)
        // p = (1 − b, b/3, b/3, b/3), q uniform: Σ p²/q − 1 = 4((1 − b)² + b²/3) − 1.
        XCTAssertEqual(p.pearsonDivergence(from: q), 4 * ((1 - b) * (1 - b) + b * b / 3) - 1, accuracy: 1e-12)
        let grid = MarginalDensity.Support.numeric(points: (0..<100).map { (Double($0) + 0.5) / 100 }, minimumBandwidth: 0.005)
        let xs = (0..<200).map { Double($0) / 199 }, top = Array(xs.prefix(20))
        let sigma = grid.bandwidth(for: top)
        let pn = MarginalDensity(grid, observations: top, bandwidth: sigma), qn = MarginalDensity(grid, observations: xs, bandwidth: sigma)
        XCTAssertEqual(pn.mass.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertTrue(zip(pn.mass, qn.mass).allSatisfy { $0 <= 10 * $1 + 1e-12 })
        XCTAssertGreaterThan(pn.pearsonDivergence(from: qn), 3)
    }

}
