import Foundation
import Search
import Store
import XCTest
@testable import Report

/// Pick rules: parsing, the knee and best rules on hand-made fronts, and the errors a study can
/// give (unknown study, empty study, a trial that is not COMPLETE).
final class ExportPickTests: XCTestCase {
    private let date = Date(timeIntervalSince1970: 0)
    private let twoObjectives = StudyObjectives(objectives: [Objective("accuracy", .maximize), Objective("latency", .minimize)])

    private func trial(_ number: Int, _ metrics: [String: Double], state: TrialState = .complete) -> TrialRecord {
        TrialRecord(study: 1, number: number, state: state, parameters: [], metrics: metrics, started: date, heartbeat: date, worker: "w")
    }

    // MARK: Parsing

    func testRulesParse() throws {
        XCTAssertEqual(try PickRule.parse("knee"), PickRule.knee)
        XCTAssertEqual(try PickRule.parse("best:accuracy").choice, .best(metric: "accuracy", direction: nil))
        XCTAssertEqual(try PickRule.parse("best:peak_mib:min").choice, .best(metric: "peak_mib", direction: .minimize))
        let rule = try PickRule.parse("best:accuracy,latency_ms@jetson-orin-nano<=10,params<=100000, accuracy >= 0.5")
        XCTAssertEqual(rule.constraints, [MetricConstraint("latency_ms@jetson-orin-nano", .atMost, 10),
                                          MetricConstraint("params", .atMost, 100_000), MetricConstraint("accuracy", .atLeast, 0.5)])
        XCTAssertEqual(try PickRule.parse("knee,params<=1e5").constraints, [MetricConstraint("params", .atMost, 100_000)])
    }

    func testBadRulesSayWhatIsWrong() {
        let cases = [
            ("", "pick rule '': empty (use knee or best:METRIC)"),
            ("kne", "pick rule 'kne': unknown rule 'kne' (use knee or best:METRIC). Did you mean 'knee'?"),
            ("best", "pick rule 'best': best needs a metric (best:METRIC or best:METRIC:min|max)"),
            ("best:accuracy:up", "pick rule 'best:accuracy:up': direction 'up' is not min or max"),
            ("knee:3", "pick rule 'knee:3': knee takes no argument"),
            ("best:accuracy,params<100", "pick rule 'best:accuracy,params<100': constraint 'params<100' is not METRIC<=NUMBER or METRIC>=NUMBER"),
            ("best:accuracy,params<=many", "pick rule 'best:accuracy,params<=many': bound 'many' of 'params<=many' is not a number"),
            ("best:accuracy,", "pick rule 'best:accuracy,': empty constraint after a comma"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try PickRule.parse(text), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    // MARK: Knee

    func testKneeOfTwoObjectivesIsFarthestFromTheLineThroughTheExtremes() {
        // Normalised, the extremes are (0, 1) and (1, 0); trial 2 at (0.2, 0.2) is farthest
        // from the line x + y = 1, trial 3 at (0.5, 0.45) barely off it.
        let front: [(number: Int, values: [Double])] = [(1, [0, 10]), (2, [2, 2]), (3, [5, 4.5]), (4, [10, 0])]
        XCTAssertEqual(TrialPicker.knee(front), 2)
        // Units do not matter: scaling one objective leaves the knee where it is.
        XCTAssertEqual(TrialPicker.knee(front.map { ($0.number, [$0.values[0] * 1000, $0.values[1]]) }), 2)
    }

    func testKneeTiesGoToTheSmallerTrialNumber() {
        // (0.2, 0.2) twice, as trials 9 and 5.
        XCTAssertEqual(TrialPicker.knee([(1, [0, 1]), (9, [0.2, 0.2]), (5, [0.2, 0.2]), (2, [1, 0])]), 5)
        // Two members: both extremes, the line holds both; they are equally far from the ideal.
        XCTAssertEqual(TrialPicker.knee([(8, [0, 1]), (3, [1, 0])]), 3)
    }

    func testKneeOfThreeObjectivesIsClosestToTheIdealPoint() {
        let front: [(number: Int, values: [Double])] = [(0, [0, 10, 10]), (1, [10, 0, 10]), (2, [10, 10, 0]), (3, [4, 4, 4]), (4, [1, 9, 6])]
        XCTAssertEqual(TrialPicker.knee(front), 3)
        XCTAssertEqual(TrialPicker.knee([(6, [1, 2, 3])]), 6)
        XCTAssertNil(TrialPicker.knee([]))
    }

    func testKneePickUsesTheFrontOfCompleteTrialsInTheStudysDirections() throws {
        let trials = [
            trial(0, ["accuracy": 0.50, "latency": 1]), trial(1, ["accuracy": 0.85, "latency": 2]),
            trial(2, ["accuracy": 0.90, "latency": 9]), trial(3, ["accuracy": 0.80, "latency": 5]),   // dominated by 1
            trial(4, ["accuracy": 0.99, "latency": 0.5], state: .fail), trial(5, ["accuracy": 0.6, "latency": 1], state: .pruned),
        ]
        XCTAssertEqual(try TrialPicker.pick(.knee, trials: trials, objectives: twoObjectives, study: "s").number, 1)
        // A constraint leaves trials 2 and 3: both extremes, equally far from the ideal point; 2 is
        // the smaller number.
        XCTAssertEqual(try TrialPicker.pick(try PickRule.parse("knee,latency>=3"), trials: trials, objectives: twoObjectives, study: "s").number, 2)
    }

    // MARK: Best

    func testBestFollowsTheObjectiveOrTheGivenDirectionAmongFeasibleCompleteTrials() throws {
        let trials = [
            trial(0, ["accuracy": 0.80, "latency": 1, "params": 500]), trial(1, ["accuracy": 0.90, "latency": 4, "params": 900]),
            trial(2, ["accuracy": 0.95, "latency": 8, "params": 2000], state: .infeasible),
            trial(3, ["accuracy": 0.90, "latency": 3, "params": 700]),
        ]
        func best(_ text: String) throws -> Int { try TrialPicker.pick(try PickRule.parse(text), trials: trials, objectives: twoObjectives, study: "s").number }
        XCTAssertEqual(try best("best:accuracy"), 3, "a tie goes to the front member: 3 is as accurate as 1 and faster")
        let twins = trials + [trial(4, ["accuracy": 0.90, "latency": 3, "params": 700])]
        XCTAssertEqual(try TrialPicker.pick(try PickRule.parse("best:accuracy"), trials: twins, objectives: twoObjectives, study: "s").number, 3,
                       "between equal front members, the smaller trial number")
        XCTAssertEqual(try best("best:latency"), 0)
        XCTAssertEqual(try best("best:params:max"), 1)
        XCTAssertEqual(try best("best:accuracy,latency<=3.5"), 3)
        XCTAssertEqual(try best("best:params:min,accuracy>=0.85"), 3)
        XCTAssertThrowsError(try best("best:params")) {
            XCTAssertEqual("\($0)", "pick rule 'best:params': 'params' is not an objective of study 's'; give its direction (best:params:min or best:params:max)")
        }
        XCTAssertThrowsError(try best("best:acuracy")) {
            XCTAssertEqual("\($0)", "pick rule 'best:acuracy': no trial of study 's' reports 'acuracy'. Did you mean 'accuracy'?")
        }
        XCTAssertThrowsError(try best("best:accuracy,latncy<=2")) {
            XCTAssertEqual("\($0)", "pick rule 'best:accuracy,latncy<=2': no trial of study 's' reports 'latncy'. Did you mean 'latency'?")
        }
        XCTAssertThrowsError(try best("best:accuracy,latency<=0.1")) {
            XCTAssertEqual("\($0)", "pick rule 'best:accuracy,latency<=0.1': of the 3 COMPLETE trials of study 's', none satisfies the constraints and reports 'accuracy'")
        }
    }

    // MARK: Trials and studies

    func testATrialByNumberMustExistAndBeComplete() throws {
        let trials = [trial(0, ["accuracy": 0.5]), trial(1, [:], state: .fail)]
        XCTAssertEqual(try TrialPicker.trial(0, in: trials, study: "s").number, 0)
        XCTAssertThrowsError(try TrialPicker.trial(1, in: trials, study: "s")) {
            XCTAssertEqual("\($0)", "trial 1 of study 's' is FAIL, not COMPLETE; export a COMPLETE trial")
        }
        XCTAssertThrowsError(try TrialPicker.trial(7, in: trials, study: "s")) {
            XCTAssertEqual("\($0)", "study 's' has no trial 7 (trials are numbered 0 to 1)")
        }
        XCTAssertThrowsError(try TrialPicker.pick(.knee, trials: [trials[1]], objectives: twoObjectives, study: "s")) {
            XCTAssertEqual("\($0)", "study 's' has no COMPLETE trial to export (1 trial, none complete)")
        }
    }

    func testUnknownAndEmptyStudiesInAStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("export-pick-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.sqlite").path
        let storage = try SQLiteStorage(path: path)
        _ = try Study.create(try ExportFixtures.spec(ExportFixtures.engineSpace), named: "tiny", in: storage, location: "s.sqlite")
        XCTAssertThrowsError(try Study.open("tiyn", in: storage, location: "s.sqlite")) {
            XCTAssertEqual("\($0)", "no study 'tiyn' in s.sqlite (studies: tiny). Did you mean 'tiny'?")
        }
        let study = try Study.open("tiny", in: storage, location: "s.sqlite")
        XCTAssertThrowsError(try ExportSource.pick(study, trial: nil, rule: nil)) {
            XCTAssertEqual("\($0)", "study 'tiny' has no COMPLETE trial to export (it has no trials yet)")
        }
        XCTAssertThrowsError(try ExportSource.pick(study, trial: 0, rule: nil)) {
            XCTAssertEqual("\($0)", "study 'tiny' has no trial 0 (it has no trials)")
        }
    }
}
