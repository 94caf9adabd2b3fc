import Engine
import Foundation
import XCTest
@testable import Search

/// Parsing space files into studies: distributions, conditional templates, settings, examples.
final class SpaceFileTests: XCTestCase {
    static let command = #""evaluator": {"command": {"run": "python3 t.py"}}, "objectives": {"loss": "minimize"}"#

    func parse(_ text: String) throws -> StudySpec { try SpaceFile.parse(Data(text.utf8), file: "s.json") }

    /// The study of a file whose `training.x` is `distribution`.
    func domain(_ distribution: String) throws -> Domain {
        let spec = try parse(#"{"training": {"x": \#(distribution)}, \#(Self.command)}"#)
        XCTAssertEqual(spec.space.dimensions.map(\.name), ["training.x"])
        return spec.space.dimensions[0].domain
    }

    func testEachDistributionParsesToItsDomain() throws {
        typealias P = Domain.RealPrior
        let cases: [(String, Domain)] = [
            (#"{"_type": "choice", "_value": [1, "a", [2, 3], null]}"#,
             .choice(options: [.number(1), .string("a"), .array([.number(2), .number(3)]), .null])),
            (#"{"_type": "randint", "_value": [2, 5]}"#, .integer(lower: 2, upper: 4)),
            (#"{"_type": "randint", "_value": [-3, -2]}"#, .integer(lower: -3, upper: -3)),
            (#"{"_type": "uniform", "_value": [-1, 2.5]}"#, .real(P(.uniform(low: -1, high: 2.5)))),
            (#"{"_type": "quniform", "_value": [0, 1, 0.25]}"#, .real(P(.uniform(low: 0, high: 1), q: 0.25))),
            (#"{"_type": "loguniform", "_value": [1e-4, 0.1]}"#, .real(P(.uniform(low: 1e-4, high: 0.1), log: true))),
            (#"{"_type": "qloguniform", "_value": [1, 100, 1]}"#, .real(P(.uniform(low: 1, high: 100), log: true, q: 1))),
            (#"{"_type": "normal", "_value": [0.5, 2]}"#, .real(P(.normal(mean: 0.5, deviation: 2)))),
            (#"{"_type": "qnormal", "_value": [0, 1, 0.5]}"#, .real(P(.normal(mean: 0, deviation: 1), q: 0.5))),
            (#"{"_type": "lognormal", "_value": [-2, 0.3]}"#, .real(P(.normal(mean: -2, deviation: 0.3), log: true))),
            (#"{"_type": "qlognormal", "_value": [1, 1, 2]}"#, .real(P(.normal(mean: 1, deviation: 1), log: true, q: 2))),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try domain(text), expected, text)
        }
        XCTAssertEqual(DistributionKind.allCases.count, 10, "every NNI distribution is covered above")
    }

    /// The brief's own example: a named option merges its fields into `architecture`.
    static let conditional = #"""
    {"architecture": {"family": {"_type": "choice", "_value": [
        {"_name": "mlp", "widths": {"_type": "choice", "_value": [[128], [256, 128]]}},
        {"_name": "cnn", "stages": [{"channels": {"_type": "choice", "_value": [16, 32]}, "kernel": 3}]}]},
      "activation": "relu"},
     \#(command)}
    """#

    func testNamedOptionsMaterialiseIntoTheEnclosingObject() throws {
        let space = try parse(Self.conditional).space
        XCTAssertEqual(space.dimensions, [
            Dimension(name: "architecture.family", domain: .choice(options: [.string("mlp"), .string("cnn")])),
            Dimension(name: "architecture.widths", domain: .choice(options: [.array([.number(128)]), .array([.number(256), .number(128)])]),
                      condition: .init(parent: 0, option: 0)),
            Dimension(name: "architecture.stages[0].channels", domain: .choice(options: [.number(16), .number(32)]),
                      condition: .init(parent: 0, option: 1)),
        ])
        let mlp = Configuration([0, 1, 0])
        XCTAssertEqual(space.materialize(mlp).compactText, #"{"architecture":{"family":"mlp","widths":[256,128],"activation":"relu"}}"#)
        XCTAssertEqual(space.activeDimensions(in: mlp), [0, 1])
        let cnn = Configuration([1, 0, 1])
        XCTAssertEqual(space.materialize(cnn).compactText,
                       #"{"architecture":{"family":"cnn","stages":[{"channels":32,"kernel":3}],"activation":"relu"}}"#)
        XCTAssertEqual(space.activeDimensions(in: cnn), [0, 2])
        XCTAssertEqual(space.parameters(cnn).map { "\($0.name)=\($0.value.compactText)" },
                       [#"architecture.family="cnn""#, "architecture.stages[0].channels=32"])
        XCTAssertEqual(space.grid(limit: 100)?.count, 4)
    }

    func testTemplateOptionsCarryTheirOwnDimensions() throws {
        let spec = try parse(#"""
        {"training": {"optimizer": {"_type": "choice", "_value": [
            {"name": "adam", "lr": {"_type": "loguniform", "_value": [0.0001, 0.01]}},
            {"name": "sgd", "lr": {"_type": "loguniform", "_value": [0.001, 0.1]}, "momentum": 0.9},
            "default"]}},
         \#(Self.command)}
        """#)
        let space = spec.space
        XCTAssertEqual(space.dimensions.map(\.name), ["training.optimizer", "training.optimizer.lr", "training.optimizer.lr"],
                       "mutually exclusive options may define the same name")
        XCTAssertEqual(space.dimensions.map(\.condition), [nil, .init(parent: 0, option: 0), .init(parent: 0, option: 1)])
        XCTAssertEqual(space.dimensions[0].domain, .choice(options: [
            .object([("name", .string("adam")), ("lr", .string("loguniform(0.0001, 0.01)"))]),
            .object([("name", .string("sgd")), ("lr", .string("loguniform(0.001, 0.1)")), ("momentum", .number(0.9))]),
            .string("default"),
        ]))
        XCTAssertEqual(space.materialize(Configuration([1, 0.5, 0.02])).compactText,
                       #"{"training":{"optimizer":{"name":"sgd","lr":0.02,"momentum":0.9}}}"#)
        XCTAssertEqual(space.materialize(Configuration([2, 0.5, 0.02])).compactText, #"{"training":{"optimizer":"default"}}"#)
        XCTAssertEqual(space.activeDimensions(in: Configuration([0, 0.001, 0.02])), [0, 1])
    }

    func testNestedChoicesChainTheirConditions() throws {
        let space = try parse(#"""
        {"training": {"x": {"_type": "choice", "_value": [
            {"a": {"_type": "choice", "_value": [1, {"_type": "uniform", "_value": [0, 1]}]}, "b": 2}, 5]},
          "y": {"_type": "randint", "_value": [0, 3]}},
         \#(Self.command)}
        """#).space
        XCTAssertEqual(space.dimensions.map(\.name), ["training.x", "training.x.a", "training.x.a", "training.y"])
        XCTAssertEqual(space.dimensions.map(\.condition), [nil, .init(parent: 0, option: 0), .init(parent: 1, option: 1), nil])
        XCTAssertEqual(space.dimensions[1].domain, .choice(options: [.number(1), .string("uniform(0, 1)")]))
        let inner = Configuration([0, 1, 0.25, 2])
        XCTAssertEqual(space.materialize(inner).compactText, #"{"training":{"x":{"a":0.25,"b":2},"y":2}}"#)
        XCTAssertEqual(space.activeDimensions(in: inner), [0, 1, 2, 3])
        let outer = Configuration([1, 1, 0.25, 0])
        XCTAssertEqual(space.materialize(outer).compactText, #"{"training":{"x":5,"y":0}}"#)
        XCTAssertEqual(space.activeDimensions(in: outer), [0, 3], "the grandchild is inactive when its grandparent is")
    }

    func testFixedSectionsStayAsWritten() throws {
        let spec = try parse(#"{"parallelism": {"data": 2, "zero": [1, {"a": null}]}, "precision": "bf16", \#(Self.command)}"#)
        XCTAssertTrue(spec.space.isEmpty)
        XCTAssertEqual(spec.space.materialize(Configuration([])).compactText,
                       #"{"parallelism":{"data":2,"zero":[1,{"a":null}]},"precision":"bf16"}"#)
    }

    func testDefaults() throws {
        let one = try parse(#"{\#(Self.command)}"#)
        XCTAssertEqual(one.strategy, StrategySpec(name: "auto"))
        XCTAssertEqual(one.budget, Budget(trials: 100))
        XCTAssertEqual(one.seed, 0)
        XCTAssertEqual(one.workers, 1)
        XCTAssertNil(one.name)
        XCTAssertNil(one.earlyStopping)
        XCTAssertEqual(one.constraints, [])
        XCTAssertEqual(one.evaluator, .command(CommandSpec(argv: ["python3", "t.py"])))
        let two = try parse(#"{"evaluator": {"command": {"run": ["x"]}}, "objectives": {"a": "maximize", "b": "minimize"}}"#)
        XCTAssertEqual(two.strategy.name, "auto")
        XCTAssertEqual(two.objectives, [Objective("a", .maximize), Objective("b", .minimize)], "shorthand keeps the order written")
        let bench = try parse(#"{"evaluator": {"benchmark": {"problem": "dtlz7", "objectives": 4}}}"#)
        XCTAssertEqual(bench.evaluator, .benchmark(problem: "dtlz7", variables: 23, objectives: 4))
        XCTAssertEqual(bench.objectives.map(\.metric), ["f1", "f2", "f3", "f4"])
        XCTAssertEqual(bench.space, SearchSpace.unitCube(23))
        XCTAssertEqual(try parse(#"{"evaluator": {"benchmark": {"problem": "zdt4"}}}"#).evaluator,
                       .benchmark(problem: "zdt4", variables: 10, objectives: 2))
    }

    func testSettings() throws {
        let spec = try parse(#"""
        {"training": {"lr": {"_type": "loguniform", "_value": [0.001, 0.1]}, "width": {"_type": "choice", "_value": [8, 16]}},
         "evaluator": {"command": {"run": ["python3", "train.py", "--lr={lr}", "--w={training.width}"], "input": "arguments",
                                   "timeout": 12.5, "cwd": "work", "env": {"MODE": "fast", "B": "2"}}},
         "objectives": [{"metric": "error", "direction": "minimize"}, {"metric": "seconds", "direction": "minimize"}],
         "constraints": [{"metric": "memory", "<=": 512}, {"metric": "accuracy", ">=": 0.5}],
         "strategy": {"name": "random", "batch": 4},
         "early_stopping": {"name": "hyperband", "max_resource": 27},
         "budget": {"trials": 40, "minutes": 1.5}, "seed": 42, "workers": 2, "name": "study-1.b_2"}
        """#)
        XCTAssertEqual(spec.evaluator, .command(CommandSpec(argv: ["python3", "train.py", "--lr={lr}", "--w={training.width}"],
                                                             input: .arguments, timeoutSeconds: 12.5, workingDirectory: "work",
                                                             environment: ["MODE": "fast", "B": "2"])))
        XCTAssertEqual(spec.constraints, [MetricConstraint("memory", .atMost, 512), MetricConstraint("accuracy", .atLeast, 0.5)])
        XCTAssertEqual(spec.strategy, StrategySpec(name: "random", options: .object([("batch", .number(4))])))
        XCTAssertEqual(spec.earlyStopping, EarlyStoppingSpec(kind: .hyperband, minResource: 1, maxResource: 27, reductionFactor: 3))
        XCTAssertEqual(spec.budget, Budget(trials: 40, seconds: 90))
        XCTAssertEqual(spec.seed, 42)
        XCTAssertEqual(spec.workers, 2)
        XCTAssertEqual(spec.name, "study-1.b_2")
        XCTAssertEqual(try parse(#"{\#(Self.command), "budget": {"minutes": 2}}"#).budget, Budget(seconds: 120))
        XCTAssertEqual(try parse(#"{\#(Self.command), "strategy": "grid"}"#).strategy, StrategySpec(name: "grid"))
    }

    func testEngineEvaluatorKeepsItsData() throws {
        let spec = try parse(#"""
        {"architecture": {"family": "mlp", "widths": [{"_type": "choice", "_value": [32, 64]}]},
         "training": {"optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3},
         "evaluator": {"engine": {"data": {"dataset": "spirals", "samples": 600}, "epochs": 5}},
         "objectives": {"accuracy": "maximize", "params": "minimize"}}
        """#)
        XCTAssertEqual(spec.evaluator, .engine(data: .object([("dataset", .string("spirals")), ("samples", .number(600))]), epochs: 5))
        XCTAssertEqual(spec.space.dimensions.map(\.name), ["architecture.widths[0]"])
        XCTAssertEqual(SpaceFile.engineMetrics.count, 16)
    }

    func testPlaceholders() throws {
        XCTAssertEqual(try SpaceFile.placeholders(in: "--lr={lr} --x={a.b[0].c}{d}", at: "p"), ["lr", "a.b[0].c", "d"])
        XCTAssertEqual(try SpaceFile.placeholders(in: #"{{"a": 1}}"#, at: "p"), [], "doubled braces are literal")
        let names = ["training.lr", "architecture.stages[0].channels", "architecture.stages[1].channels"]
        XCTAssertEqual(SpaceFile.resolvePlaceholder("lr", among: names), "training.lr")
        XCTAssertEqual(SpaceFile.resolvePlaceholder("training.lr", among: names), "training.lr")
        XCTAssertNil(SpaceFile.resolvePlaceholder("channels", among: names), "ambiguous")
        XCTAssertEqual(SpaceFile.resolvePlaceholder("architecture.stages[1].channels", among: names), names[2])
        XCTAssertNil(SpaceFile.resolvePlaceholder("momentum", among: names))
        // Names shared by mutually exclusive options are one parameter, not an ambiguity.
        let spec = try parse(#"""
        {"training": {"opt": {"_type": "choice", "_value": [{"lr": {"_type": "uniform", "_value": [0, 1]}}, {"lr": {"_type": "uniform", "_value": [1, 2]}}]}},
         "evaluator": {"command": {"run": ["t", "--lr={lr}", "--cfg={{\"x\": 1}}"], "input": "arguments"}}, "objectives": {"loss": "minimize"}}
        """#)
        XCTAssertEqual(spec.space.dimensions.map(\.name), ["training.opt", "training.opt.lr", "training.opt.lr"])
    }

    func testGridCountAgreesWithEnumeration() throws {
        let space = try parse(#"""
        {"architecture": {"family": {"_type": "choice", "_value": [
            {"_name": "a", "w": {"_type": "randint", "_value": [1, 4]}, "d": {"_type": "quniform", "_value": [0, 0.5, 0.1]}},
            {"_name": "b", "k": [{"_type": "choice", "_value": [3, 5]}, {"_type": "choice", "_value": [1, {"_type": "randint", "_value": [0, 2]}]}]}]}},
         \#(Self.command), "strategy": "grid"}
        """#).space
        // a: 3 widths × 6 dropouts = 18; b: 2 × (1 + 2) = 6.
        XCTAssertEqual(SpaceFile.candidateCount(space.template, space), 24)
        XCTAssertEqual(space.grid(limit: 1000)?.count, 24)
        XCTAssertEqual(Set(space.grid(limit: 1000) ?? []).count, 24)
    }

    // MARK: The example files

    static let searchspaces = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("searchspaces")

    func example(_ name: String) throws -> StudySpec {
        try SpaceFile.load(path: Self.searchspaces.appendingPathComponent(name).path)
    }

    func testBenchmarkExamplesParse() throws {
        let zdt1 = try example("zdt1.json")
        XCTAssertEqual(zdt1.evaluator, .benchmark(problem: "zdt1", variables: 30, objectives: 2))
        XCTAssertEqual(zdt1.objectives, [Objective("f1", .minimize), Objective("f2", .minimize)])
        XCTAssertEqual(zdt1.space.dimensions.count, 30)
        XCTAssertEqual(zdt1.strategy.name, "nsga2")
        XCTAssertEqual(zdt1.name, "zdt1")
        let dtlz2 = try example("dtlz2.json")
        XCTAssertEqual(dtlz2.evaluator, .benchmark(problem: "dtlz2", variables: 12, objectives: 3))
        XCTAssertEqual(dtlz2.objectives.map(\.metric), ["f1", "f2", "f3"])
    }

    func testHardwareExamplesParse() throws {
        let cluster = try example("gpt3-cluster.json")
        guard case .meta(let meta) = cluster.evaluator else { return XCTFail("\(cluster.evaluator)") }
        XCTAssertEqual(meta.hardware, "A100-SXM-80GB"); XCTAssertEqual(meta.nodes, 128); XCTAssertEqual(meta.gpusPerNode, 8)
        XCTAssertEqual(meta.globalBatch, 1536)
        XCTAssertEqual(cluster.objectives, [Objective("tokens_per_second", .maximize), Objective("memory_gib", .minimize),
                                            Objective("usd_per_mtoken", .minimize)])
        XCTAssertEqual(cluster.referencePoint?.count, 3)
        let edge = try example("edge.json")
        XCTAssertEqual(edge.objectives.map(\.metric), ["accuracy", "latency_ms@jetson-orin-nano"])
        XCTAssertEqual(edge.constraints.map(\.metric), ["memory_mb@raspberry-pi-5"])
    }

    func testMixedConditionalExampleParses() throws {
        let spec = try example("mixed-conditional.json")
        let space = spec.space
        XCTAssertEqual(space.dimensions.map(\.name), [
            "architecture.family", "architecture.widths", "architecture.dropout",
            "architecture.stages[0].channels", "architecture.stages[1].channels", "architecture.stages[1].kernel",
            "architecture.activation", "training.optimizer", "training.optimizer.lr", "training.optimizer.lr",
            "training.optimizer.momentum", "training.batch_size", "training.epochs",
        ])
        XCTAssertEqual(space.dimensions.map { $0.condition.map { "\($0.parent)/\($0.option)" } ?? "-" },
                       ["-", "0/0", "0/0", "0/1", "0/1", "0/1", "-", "-", "7/0", "7/1", "7/1", "-", "-"])
        for (i, d) in space.dimensions.enumerated() { if let c = d.condition { XCTAssertLessThan(c.parent, i) } }
        XCTAssertEqual(spec.evaluator, .command(CommandSpec(argv: ["python3", "searchspaces/scripts/toy_objective.py"], timeoutSeconds: 30)))
        XCTAssertEqual(spec.strategy.name, "auto")
        XCTAssertEqual(spec.constraints, [MetricConstraint("params", .atMost, 500_000)])
    }

    /// The toy objective answers every candidate of the example with one JSON line of metrics,
    /// and its parameter count is the network's.
    func testToyObjectiveScoresMaterialisedCandidates() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { "\($0)/python3" }
        guard let python = candidates.first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("python3 is not installed")
        }
        let space = try example("mixed-conditional.json").space
        var rng = RandomSource(seed: 11)
        var configurations = (0..<3).map { _ in space.sample(using: &rng) }
        // mlp, widths [256, 128]: 784·256 + 256 + 256·128 + 128 + 128·10 + 10 = 235146.
        configurations.append(space.configuration(atUnit: [0.1, 0.5, 0.5, 0, 0, 0, 0, 0.9, 0.5, 0.5, 0.5, 0, 0.9]))
        for (n, configuration) in configurations.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [Self.searchspaces.appendingPathComponent("scripts/toy_objective.py").path]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data(space.materialize(configuration).compactText.utf8))
            try input.fileHandleForWriting.close()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            let last = try XCTUnwrap(text.split(separator: "\n").last)
            let metrics = try JSONValue(parsing: String(last))
            let accuracy = try XCTUnwrap(metrics["accuracy"]?.number)
            XCTAssertTrue((0...1).contains(accuracy))
            let params = try XCTUnwrap(metrics["params"]?.number)
            if n == 3 { XCTAssertEqual(params, 235_146) } else { XCTAssertGreaterThan(params, 1000) }
        }
    }

    func testReferencePointIsOneNumberPerObjectiveInItsOwnUnits() throws {
        func parse(_ extra: String) throws -> StudySpec {
            try SpaceFile.parse(Data("""
            {"training": {"x": {"_type": "uniform", "_value": [0, 1]}}, "evaluator": {"command": {"run": "python3 t.py"}},
             "objectives": {"accuracy": "maximize", "params": "minimize"}\(extra)}
            """.utf8), file: "s.json")
        }
        XCTAssertNil(try parse("").referencePoint)
        XCTAssertEqual(try parse(#", "reference_point": {"params": 5e5, "accuracy": 0.5}"#).referencePoint, [0.5, 5e5])
        let cases = [
            (#", "reference_point": [0.5, 1]"#, "s.json: reference_point: expected an object of objective → number, got an array"),
            (#", "reference_point": {"accuracy": 0.5}"#, "s.json: reference_point.params: missing (the reference point needs every objective)"),
            (#", "reference_point": {"accuracy": "x", "params": 1}"#, "s.json: reference_point.accuracy: expected a finite number, got a string"),
        ]
        for (extra, message) in cases {
            XCTAssertThrowsError(try parse(extra)) { XCTAssertEqual("\($0)", message) }
        }
        XCTAssertThrowsError(try parse(#", "reference_point": {"accuracy": 0.5, "param": 1}"#)) {
            XCTAssertTrue("\($0)".contains("reference_point.param: unknown key"), "\($0)")
        }
    }
}
