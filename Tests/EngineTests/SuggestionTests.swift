import XCTest
import Engine

final class SuggestionTests: XCTestCase {
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
        XCTAssertEqual(closestMatch(to: "--jsn", among: ["--quiet", "--json"]), "--json")
        XCTAssertEqual(closestMatch(to: "evl", among: ["eval", "bench", "help"]), "eval")
        XCTAssertEqual(closestMatch(to: "--thread", among: ["--threads", "--epochs"]), "--threads")
        XCTAssertEqual(closestMatch(to: "mpl", among: ["mlp", "cnn"]), "mlp")
    }

    func testNoSuggestionWhenTooFar() {
        XCTAssertNil(closestMatch(to: "train", among: ["eval", "bench", "help"]))
        XCTAssertNil(closestMatch(to: "x", among: ["--json"]))
        XCTAssertNil(closestMatch(to: "anything", among: []))
    }

    func testLimitGrowsWithLength() {
        // 15 characters allow 5 edits; 6 characters only 2.
        XCTAssertEqual(closestMatch(to: "--data-directry", among: ["--data-dir"]), "--data-dir")
        XCTAssertNil(closestMatch(to: "--dats", among: ["--data-dir"]))
    }

    func testTiesGoToTheEarlierCandidate() {
        XCTAssertEqual(closestMatch(to: "ab", among: ["ac", "ad"]), "ac")
    }
}
