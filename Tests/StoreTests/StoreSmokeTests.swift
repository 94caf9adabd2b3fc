import XCTest
@testable import Store

final class StoreSmokeTests: XCTestCase {
    func testTrialStatesAreStoredUpperCase() {
        XCTAssertEqual(TrialState.allCases.map(\.rawValue), ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "INFEASIBLE"])
    }
}
