import Search
import XCTest
@testable import autotune

/// `autotune importance`'s table: bars in eighths of a block, padded to one width, and the
/// objectives' columns side by side in the order of the first.
final class ImportanceTableTests: XCTestCase {
    func testBarsAreEighthsOfABlockPaddedToTheWidth() {
        XCTAssertEqual(ImportanceCommand.bar(1), String(repeating: "█", count: 20))
        XCTAssertEqual(ImportanceCommand.bar(0.5), String(repeating: "█", count: 10) + String(repeating: " ", count: 10))
        XCTAssertEqual(ImportanceCommand.bar(0.03), "▋" + String(repeating: " ", count: 19))   // 4.8 eighths → 5
        XCTAssertEqual(ImportanceCommand.bar(0), String(repeating: " ", count: 20))
        XCTAssertEqual(ImportanceCommand.bar(0.3, width: 4), "█▎  ")   // 9.6 eighths → 10
    }

    func testColumnsFollowTheFirstObjectivesOrder() {
        func result(_ metric: String, _ direction: Objective.Direction, _ shares: [(String, Double)]) -> ObjectiveImportance {
            ObjectiveImportance(objective: Objective(metric, direction), trials: 40, topTrials: 4,
                                parameters: shares.map { ParameterImportance(name: $0.0, importance: $0.1, variance: $0.1) })
        }
        let text = ImportanceCommand.text([result("loss", .minimize, [("lr", 0.75), ("depth", 0.25)]),
                                           result("accuracy", .maximize, [("depth", 1), ("lr", 0)])],
                                          study: "q", options: PEDANOVA.Options())
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "study 'q': parameter importance (PED-ANOVA: what puts a trial among the best 10% of its 40 complete trials)")
        XCTAssertEqual(lines[1], "parameter  loss (min)                  accuracy (max)")
        XCTAssertEqual(lines[2], "lr         " + ImportanceCommand.bar(0.75) + " 0.750  " + ImportanceCommand.bar(0) + " 0.000")
        XCTAssertEqual(lines[3], "depth      " + ImportanceCommand.bar(0.25) + " 0.250  " + ImportanceCommand.bar(1) + " 1.000")
        XCTAssertEqual(lines.count, 4)
    }
}
