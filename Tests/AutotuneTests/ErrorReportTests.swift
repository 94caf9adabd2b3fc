import XCTest
@testable import autotune

final class ErrorReportTests: XCTestCase {
    struct DataFileError: Error, CustomStringConvertible {
        var description: String { "train.idx: truncated after 12 bytes" }
    }

    struct InputWrapper: Error, ExitCoded, CustomStringConvertible {
        var description: String { "space.json: key 'layers': expected an array" }
        var exitCode: Int32 { 2 }
    }

    enum Undescribed: Error { case broken }

    func testUsageErrorHasReasonSuggestionAndHint() {
        let error = CLIError.unknownOption("--jsn", suggestion: "--json")
        XCTAssertEqual(ErrorReport.lines(for: error, commandPath: ["autotune", "eval"]), [
            "autotune: error: unknown option '--jsn'. Did you mean '--json'?",
            "See 'autotune eval --help'.",
        ])
        XCTAssertEqual(ErrorReport.exitCode(for: error), 2)
    }

    func testRuntimeErrorHasNoHintAndExitsOne() {
        let error = CLIError.runtime("training diverged")
        XCTAssertEqual(ErrorReport.lines(for: error, commandPath: ["autotune", "eval"]),
                       ["autotune: error: training diverged"])
        XCTAssertEqual(ErrorReport.exitCode(for: error), 1)
    }

    func testBadInputExitsTwoWithoutHint() {
        let error = CLIError.badInput("x.json: no such file")
        XCTAssertEqual(ErrorReport.lines(for: error, commandPath: ["autotune"]), ["autotune: error: x.json: no such file"])
        XCTAssertEqual(ErrorReport.exitCode(for: error), 2)
    }

    func testLibraryErrorPrintsItsDescriptionAndDefaultsToOne() {
        XCTAssertEqual(ErrorReport.lines(for: DataFileError(), commandPath: ["autotune", "eval"]),
                       ["autotune: error: train.idx: truncated after 12 bytes"])
        XCTAssertEqual(ErrorReport.exitCode(for: DataFileError()), 1)
    }

    func testExitCodedErrorChoosesItsCode() {
        XCTAssertEqual(ErrorReport.exitCode(for: InputWrapper()), 2)
        XCTAssertEqual(ErrorReport.reason(for: InputWrapper()), "space.json: key 'layers': expected an array")
    }

    func testFoundationErrorReadsAsItsLocalizedDescription() {
        let reason = ErrorReport.reason(for: CocoaError(.fileReadNoSuchFile))
        XCTAssertFalse(reason.contains("Error Domain"), reason)
    }

    func testAnyErrorGivesOneLine() {
        XCTAssertEqual(ErrorReport.reason(for: Undescribed.broken), "broken")
        XCTAssertEqual(ErrorReport.reason(for: CLIError.runtime("two\nlines")), "two lines")
    }

    func testValueErrorsNameTheValueAndWhatWasExpected() {
        let error = CLIError.invalidValue(name: "--only", value: "mpl", reason: "expected one of mlp, cnn",
                                          suggestion: "mlp")
        XCTAssertEqual(error.description,
                       "invalid value 'mpl' for '--only': expected one of mlp, cnn. Did you mean 'mlp'?")
    }
}
