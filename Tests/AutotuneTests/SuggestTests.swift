import XCTest
import Engine
@testable import autotune

final class SuggestTests: XCTestCase {
    func testEditDistanceWorkedByHand() {
        XCTAssertEqual(editDistance("kitten", "sitting"), 3)   // k→s, e→i, +g
        XCTAssertEqual(editDistance("evl", "eval"), 1)
        XCTAssertEqual(editDistance("--jsn", "--json"), 1)
        XCTAssertEqual(editDistance("abc", "abc"), 0)
        XCTAssertEqual(editDistance("", "bench"), 5)
        XCTAssertEqual(editDistance("bench", ""), 5)
        XCTAssertEqual(editDistance("ab", "ba"), 2)            // no transposition step
    }

    func testEditDistanceIsSymmetric() {
        let words = ["eval", "bench", "engine", "--threads", "--data-dir", "", "x"]
        for a in words {
            for b in words {
                XCTAssertEqual(editDistance(a, b), editDistance(b, a), "\(a) vs \(b)")
            }
        }
    }

    func testSuggestsClosestWithinLimit() {
        XCTAssertEqual(suggestion(for: "--jsn", among: ["--quiet", "--json"]), "--json")
        XCTAssertEqual(suggestion(for: "evl", among: ["eval", "bench", "help"]), "eval")
        XCTAssertEqual(suggestion(for: "--thread", among: ["--threads", "--epochs"]), "--threads")
        XCTAssertEqual(suggestion(for: "mpl", among: ["mlp", "cnn"]), "mlp")
    }

    func testNoSuggestionWhenTooFar() {
        XCTAssertNil(suggestion(for: "train", among: ["eval", "bench", "help"]))
        XCTAssertNil(suggestion(for: "x", among: ["--json"]))
        XCTAssertNil(suggestion(for: "anything", among: []))
    }

    func testLimitGrowsWithLength() {
        // 15 characters allow 5 edits; 6 characters only 2.
        XCTAssertEqual(suggestion(for: "--data-directry", among: ["--data-dir"]), "--data-dir")
        XCTAssertNil(suggestion(for: "--dats", among: ["--data-dir"]))
    }

    func testTiesGoToTheEarlierCandidate() {
        XCTAssertEqual(suggestion(for: "ab", among: ["ac", "ad"]), "ac")
    }
}
