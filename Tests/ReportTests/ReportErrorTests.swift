import XCTest
@testable import Report

final class ReportErrorTests: XCTestCase {
    func testDescriptionIsTheMessageAndInputIsTheDefaultKind() {
        let e = ReportError("study 'x' has no complete trials")
        XCTAssertEqual("\(e)", "study 'x' has no complete trials")
        XCTAssertEqual(e.kind, .input)
        XCTAssertEqual(ReportError("gnuplot failed", kind: .tool).kind, .tool)
    }
}
