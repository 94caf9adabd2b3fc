import XCTest
import Engine
@testable import Search

final class GridSearchTests: XCTestCase {
    /// A choice of two options, the first with an integer under it: 3 + 1 candidates, times a
    /// quantised real of 3 values = 12.
    static let finiteSpace: SearchSpace = {
        let dims = [
            Dimension(name: "optimizer", domain: .choice(options: [.string("sgd"), .string("adam")])),
            Dimension(name: "steps", domain: .integer(lower: 1, upper: 3), condition: .init(parent: 0, option: 0)),
            Dimension(name: "dropout", domain: .real(.init(.uniform(low: 0, high: 0.2), q: 0.1))),
        ]
        let template = SpaceNode.object(dims.indices.map { .init(dims[$0].name, .decision(index: $0, options: [], merged: [])) })
        return SearchSpace(dimensions: dims, template: template)
    }()

    func testEveryCandidateOnceThenExhausted() throws {
        let space = GridSearchTests.finiteSpace
        let grid = try GridSearch(space: space, seed: 1)
        XCTAssertEqual(grid.points.count, 12)
        XCTAssertEqual(grid.points.count, space.cardinality)
        let asked = try (0..<12).map { try grid.ask(number: $0) }
        XCTAssertEqual(Set(asked).count, 12)
        XCTAssertEqual(Set(asked), Set(space.grid(limit: 100) ?? []), "the same candidates as SearchSpace.grid")
        XCTAssertThrowsError(try grid.ask(number: 12)) { XCTAssertEqual($0 as? StrategyError, .exhausted(proposed: 12)) }
    }

    func testSeedShufflesTheOrder() throws {
        let space = GridSearchTests.finiteSpace
        let a = try GridSearch(space: space, seed: 1).points, b = try GridSearch(space: space, seed: 2).points
        XCTAssertEqual(a, try GridSearch(space: space, seed: 1).points)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(Set(a), Set(b))
    }

    func testContinuousDimensionsNeedAResolution() throws {
        XCTAssertThrowsError(try GridSearch(space: .unitCube(2), seed: 1)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.keyPath, "strategy")
            XCTAssertTrue(e?.reason.contains("'x0' is continuous") ?? false, "\(error)")
        }
        // Three cell centres per dimension: 1/6, 1/2, 5/6.
        let grid = try GridSearch(space: .unitCube(2), seed: 1, resolution: 3)
        XCTAssertEqual(grid.points.count, 9)
        XCTAssertEqual(Set(grid.points.flatMap(\.values)), [1.0 / 6, 0.5, 5.0 / 6])
    }

    func testTooLargeAGridIsAnError() {
        XCTAssertThrowsError(try GridSearch(space: GridSearchTests.finiteSpace, seed: 1, limit: 10)) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "strategy")
        }
        let huge = SearchSpace(dimensions: [Dimension(name: "n", domain: .integer(lower: 0, upper: Int(Int32.max)))],
                               template: .decision(index: 0, options: [], merged: []))
        XCTAssertThrowsError(try GridSearch(space: huge, seed: 1), "must not enumerate two billion values first")
    }
}
