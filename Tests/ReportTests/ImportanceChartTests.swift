import Search
import XCTest
@testable import Report

/// The report's importance bar chart: the largest shares as bars scaled to the full width, names
/// escaped, and how many parameters are left out.
final class ImportanceChartTests: XCTestCase {
    private func result(_ shares: [(String, Double)]) -> ObjectiveImportance {
        ObjectiveImportance(objective: Objective("loss", .minimize), trials: 100, topTrials: 10,
                            parameters: shares.map { ParameterImportance(name: $0.0, importance: $0.1, variance: $0.1 / 100) })
    }

    func testTheLargestSharesAreBarsAndTheRestCounted() {
        let parameters = [("a<b", 0.5), ("lr", 0.25)] + (0..<15).map { ("p\($0)", 0.25 / 15) }
        let svg = StudyReport.importanceChart(result(parameters))
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertEqual(svg.components(separatedBy: "<rect ").count - 1, 15, "15 bars")
        XCTAssertTrue(svg.contains(">a&lt;b</text>"), "names are escaped")
        XCTAssertFalse(svg.contains("a<b"))
        // A share of 0.5 is half of the 300 px a share of 1 would take.
        XCTAssertTrue(svg.contains("width=\"150.0\" height=\"14.0\""), svg)
        XCTAssertTrue(svg.contains(">0.500</text>"))
        XCTAssertTrue(svg.contains(">2 more parameters</text>"))
        XCTAssertFalse(StudyReport.importanceChart(result(Array(parameters.prefix(3)))).contains("more parameter"))
    }
}
