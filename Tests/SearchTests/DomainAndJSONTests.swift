@testable import Engine
import Store
import XCTest
@testable import Search

/// Domains' unit-interval mapping, the order-keeping JSON parser, and stored parameters.
final class DomainAndJSONTests: XCTestCase {
    func testEveryDomainRoundTripsThroughTheUnitInterval() {
        let domains: [Domain] = [
            .choice(options: [.string("a"), .string("b"), .string("c")]),
            .integer(lower: -2, upper: 5),
            .real(.init(.uniform(low: 1, high: 3))),
            .real(.init(.uniform(low: 1e-4, high: 1e-1), log: true)),
            .real(.init(.uniform(low: 0, high: 0.5), q: 0.1)),
            .real(.init(.normal(mean: 2, deviation: 0.5))),
            .real(.init(.normal(mean: 0, deviation: 1), log: true)),
        ]
        var rng = RandomSource(seed: 11)
        for d in domains {
            for _ in 0..<200 {
                let v = d.value(atUnit: rng.nextDouble())
                XCTAssertTrue(d.contains(v), "\(d) produced \(v)")
                XCTAssertEqual(d.value(atUnit: d.unit(of: v)), v, accuracy: 1e-9 * max(1, abs(v)), "\(d)")
            }
        }
    }

    func testPriorsAreWhatTheirNamesSay() {
        // Uniform u through a log-uniform domain: the median is the geometric mean of the bounds.
        let log = Domain.real(.init(.uniform(low: 1e-4, high: 1), log: true))
        XCTAssertEqual(log.value(atUnit: 0.5), 1e-2, accuracy: 1e-12)
        // Through a normal one: the 97.5% point is μ + 1.959964σ.
        let normal = Domain.real(.init(.normal(mean: 1, deviation: 2)))
        XCTAssertEqual(normal.value(atUnit: 0.975), 1 + 2 * 1.959963984540054, accuracy: 1e-9)
        XCTAssertEqual(normal.unit(of: 1), 0.5, accuracy: 1e-15)
        // randint [−2, 5] (NNI's [−2, 6)): eight equal cells.
        let integer = Domain.integer(lower: -2, upper: 5)
        XCTAssertEqual((0..<8).map { integer.value(atUnit: (Double($0) + 0.5) / 8) }, (-2...5).map(Double.init))
    }

    func testQuantisedValuesAreTheDecimalsPeopleWrote() {
        let d = Domain.real(.init(.uniform(low: 0, high: 0.5), q: 0.1))
        XCTAssertEqual(d.allValues, [0, 0.1, 0.2, 0.3, 0.4, 0.5])
        XCTAssertEqual(d.json(d.value(atUnit: 0.65)).compactText, "0.3")
        // clip(round(x / q)·q, low, high), halves rounded away from zero: x in [0.5, 2.5] gives 1, 2
        // and (x = 2.5 → 3, clipped) 2.5 — the values the grid enumerates are the ones sampling gives.
        let clipped = Domain.real(.init(.uniform(low: 0.5, high: 2.5), q: 1))
        XCTAssertEqual(clipped.allValues, [1, 2, 2.5])
        XCTAssertEqual(clipped.cardinality, 3)
        XCTAssertEqual(Set((0...100).map { clipped.value(atUnit: Double($0) / 100) }), [1, 2, 2.5])
    }

    func testParserKeepsKeyOrderAndReportsLineAndColumn() throws {
        let v = try JSONValue(parsing: #"{"zeta": 1, "alpha": [true, null, "x\n"], "mid": {"b": 2.5, "a": -3e2}}"#)
        XCTAssertEqual(v.members?.map(\.key), ["zeta", "alpha", "mid"])
        XCTAssertEqual(v.compactText, #"{"zeta":1,"alpha":[true,null,"x\n"],"mid":{"b":2.5,"a":-300}}"#)
        XCTAssertEqual(try JSONValue(parsing: v.prettyText), v)
        let cases: [(String, JSONSyntaxError)] = [
            ("{\n  \"a\": 1,\n  \"b\" 2\n}", JSONSyntaxError(line: 3, column: 7, reason: "expected ':' after key \"b\"")),
            ("[1, 2,]", JSONSyntaxError(line: 1, column: 7, reason: "unexpected character ']'")),
            ("{\"a\": 1, \"a\": 2}", JSONSyntaxError(line: 1, column: 10, reason: "duplicate key \"a\"")),
            ("{\"a\": 01}", JSONSyntaxError(line: 1, column: 8, reason: "expected ',' or '}'")),
            ("\"open", JSONSyntaxError(line: 1, column: 6, reason: "unterminated string")),
            ("{} x", JSONSyntaxError(line: 1, column: 4, reason: "unexpected text after the document")),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try JSONValue(parsing: text), text) { XCTAssertEqual($0 as? JSONSyntaxError, expected, text) }
        }
    }

    func testStoredParametersRebuildTheConfiguration() throws {
        // family ∈ {mlp, cnn}; widths only under mlp, channels only under cnn.
        let dims = [
            Dimension(name: "family", domain: .choice(options: [.string("mlp"), .string("cnn")])),
            Dimension(name: "widths", domain: .choice(options: [.array([.number(64)]), .array([.number(128)])]),
                      condition: .init(parent: 0, option: 0)),
            Dimension(name: "channels", domain: .integer(lower: 4, upper: 32), condition: .init(parent: 0, option: 1)),
        ]
        let space = SearchSpace(dimensions: dims, template: .object([
            .init("family", .decision(index: 0, options: [], merged: [
                [.init("widths", .decision(index: 1, options: [], merged: []))],
                [.init("channels", .decision(index: 2, options: [], merged: []))],
            ])),
        ]))
        let cnn = Configuration([1, 0, 16])
        XCTAssertEqual(space.materialize(cnn).compactText, #"{"family":"cnn","channels":16}"#)
        let records = space.parameterRecords(cnn)
        XCTAssertEqual(records.map(\.name), ["family", "channels"], "inactive dimensions are not stored")
        let rebuilt = try space.configuration(from: records)
        XCTAssertEqual(space.materialize(rebuilt), space.materialize(cnn))
        XCTAssertThrowsError(try space.configuration(from: [ParameterRecord(name: "family", value: 1, json: "\"cnn\"")]))
        XCTAssertThrowsError(try space.configuration(from: [ParameterRecord(name: "family", value: 5, json: "5")]))
        XCTAssertEqual(space.grid(limit: 100)?.count, 2 + 29)
    }
}
