import XCTest
@testable import autotune

/// The parser against a command declared here, so the tests do not move with the real commands.
final class ArgumentParserTests: XCTestCase {
    enum Color: String, CaseIterable, ArgumentValue { case red, green }

    let configuration = CommandConfiguration(
        name: "paint",
        abstract: "Paint files.",
        arguments: [Argument("input", valueName: "INPUT.json", help: "What to paint."),
                    Argument("extra", valueName: "FILE", help: "More files.", isRepeated: true)],
        options: [.flag("json", help: "JSON output."),
                  .value("threads", valueName: "N", help: "Threads.", default: "2"),
                  .value("rate", valueName: "R", help: "Rate."),
                  .value("color", valueName: "C", help: "Colors.")])

    func parse(_ tokens: [String]) throws -> ParsedValues {
        try ArgumentParser.parse(tokens, for: configuration)
    }

    func assertThrows(_ tokens: [String], _ expected: CLIError, line: UInt = #line) {
        XCTAssertThrowsError(try parse(tokens), line: line) { error in
            XCTAssertEqual(error as? CLIError, expected, line: line)
        }
    }

    func testOptionWithSeparateValue() throws {
        let values = try parse(["in.json", "--threads", "4"])
        XCTAssertEqual(try values.value("threads", as: Int.self), 4)
        XCTAssertEqual(try values.argument("input", as: String.self), "in.json")
    }

    func testOptionWithEqualsValue() throws {
        let values = try parse(["--threads=8", "in.json", "--rate=1e-3"])
        XCTAssertEqual(try values.value("threads", as: Int.self), 8)
        XCTAssertEqual(try values.value("rate", as: Double.self), 0.001)
    }

    func testEqualsValueMayBeEmptyOrContainEquals() throws {
        let values = try parse(["in.json", "--color=a=b"])
        XCTAssertEqual(try values.value("color", as: String.self), "a=b")
    }

    func testDefaultsAndAbsentOptions() throws {
        let values = try parse(["in.json"])
        XCTAssertEqual(try values.value("threads", as: Int.self), 2)
        XCTAssertNil(try values.optionalValue("rate", as: Double.self))
        XCTAssertFalse(values.flag("json"))
        XCTAssertThrowsError(try values.value("rate", as: Double.self)) { error in
            XCTAssertEqual(error as? CLIError, .missingValue(option: "--rate"))
        }
    }

    func testFlagsAndLastValueWins() throws {
        let values = try parse(["--json", "in.json", "--threads", "1", "--threads", "3"])
        XCTAssertTrue(values.flag("json"))
        XCTAssertEqual(try values.value("threads", as: Int.self), 3)
    }

    func testMissingValueAtEnd() {
        assertThrows(["in.json", "--threads"], .missingValue(option: "--threads"))
    }

    func testMissingValueBeforeAnotherOption() {
        assertThrows(["in.json", "--threads", "--json"], .missingValue(option: "--threads"))
    }

    func testNegativeNumberAndDashAreValues() throws {
        let values = try parse(["-", "--threads", "-1"])
        XCTAssertEqual(try values.value("threads", as: Int.self), -1)
        XCTAssertEqual(try values.argument("input", as: String.self), "-")
    }

    func testUnknownOptionSuggestsClosest() {
        assertThrows(["in.json", "--jsn"], .unknownOption("--jsn", suggestion: "--json"))
        assertThrows(["in.json", "--thread=2"], .unknownOption("--thread", suggestion: "--threads"))
        assertThrows(["in.json", "--zzzzzz"], .unknownOption("--zzzzzz", suggestion: nil))
        assertThrows(["in.json", "-j"], .unknownOption("-j", suggestion: nil))
    }

    func testFlagRejectsValue() {
        assertThrows(["in.json", "--json=yes"], .flagWithValue(option: "--json"))
    }

    func testMissingArgument() {
        assertThrows(["--json"], .missingArgument("INPUT.json"))
    }

    func testExtraPositionalIsRejectedWithoutRepeatedArgument() {
        let single = CommandConfiguration(name: "one", abstract: "One.",
                                          arguments: [Argument("input", help: "Input.")])
        XCTAssertThrowsError(try ArgumentParser.parse(["a", "b"], for: single)) { error in
            XCTAssertEqual(error as? CLIError, .unexpectedArgument("b"))
        }
        let none = CommandConfiguration(name: "none", abstract: "None.")
        XCTAssertThrowsError(try ArgumentParser.parse(["a"], for: none)) { error in
            XCTAssertEqual(error as? CLIError, .unexpectedArgument("a"))
        }
    }

    func testRepeatedArgumentTakesTheRest() throws {
        let values = try parse(["in.json", "a", "--json", "b"])
        XCTAssertEqual(try values.argumentValues("extra", as: String.self), ["a", "b"])
        XCTAssertEqual(try parse(["in.json"]).argumentValues("extra", as: String.self), [])
    }

    func testDoubleDashEndsOptions() throws {
        let values = try parse(["--", "--json", "-h", "--threads"])
        XCTAssertFalse(values.flag("json"))
        XCTAssertEqual(try values.argument("input", as: String.self), "--json")
        XCTAssertEqual(try values.argumentValues("extra", as: String.self), ["-h", "--threads"])
    }

    func testInvalidIntegerNamesTheOption() throws {
        let values = try parse(["in.json", "--threads", "four"])
        XCTAssertThrowsError(try values.value("threads", as: Int.self)) { error in
            XCTAssertEqual(error as? CLIError,
                           .invalidValue(name: "--threads", value: "four", reason: "expected an integer"))
        }
    }

    func testNonFiniteDoubleIsRejected() throws {
        let values = try parse(["in.json", "--rate", "nan"])
        XCTAssertThrowsError(try values.value("rate", as: Double.self))
    }

    func testCommaListAcrossRepeatsWithEnumSuggestion() throws {
        let values = try parse(["in.json", "--color", "red, green", "--color=red"])
        XCTAssertEqual(try values.list("color", as: Color.self), [.red, .green, .red])
        XCTAssertEqual(try values.uniqueList("color", as: Color.self), [.red, .green], "each once, in the order first given")
        let bad = try parse(["in.json", "--color", "red,gren"])
        XCTAssertThrowsError(try bad.list("color", as: Color.self)) { error in
            XCTAssertEqual(error as? CLIError, .invalidValue(name: "--color", value: "gren",
                                                             reason: "expected one of red, green",
                                                             suggestion: "green"))
        }
    }
}
