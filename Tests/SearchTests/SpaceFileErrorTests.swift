import Engine
import Foundation
import XCTest
@testable import Search

/// Every way a space file can be wrong, with the exact one-line message it gets.
final class SpaceFileErrorTests: XCTestCase {
    /// A command evaluator with one objective, for files whose error lies elsewhere.
    static let run = #""evaluator": {"command": {"run": "python3 t.py"}}, "objectives": {"loss": "minimize"}"#
    static let engine = #""architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}}"#
    static let engineObjectives = #""objectives": {"accuracy": "maximize"}"#
    static let lr = #""training": {"lr": {"_type": "loguniform", "_value": [0.001, 0.1]}}"#
    static let distributions = "choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal"
    static let topLevel = "architecture, training, precision, compression, parallelism, evaluator, objectives, constraints, strategy, early_stopping, budget, seed, workers, name, reference_point, max_consecutive_failures, max_retries, export, keep_weights"

    /// (file text, the exact reason after "s.json: ").
    static let corpus: [(String, String)] = [
        // The document
        ("{\n  \"training\": [1 2]\n}", "line 2, column 18: malformed JSON (expected ',' or ']')"),
        (#"{"seed": 1, "seed": 2}"#, "line 1, column 13: malformed JSON (duplicate key \"seed\")"),
        ("[1]", "top level: expected an object, got an array"),
        (#"{"archtecture": {}, \#(run)}"#, "archtecture: unknown key in a space file (valid: \(topLevel)). Did you mean 'architecture'?"),
        (#"{"data": {"dataset": "spirals"}, \#(run)}"#, "data: the data set belongs under evaluator.engine.data"),
        // Kept weights
        (#"{"keep_weights": "yes", \#(run)}"#, #"keep_weights: expected true, false or {"max_mib": N}, got a string"#),
        (#"{"keep_weights": {"max_mib": 0}, \#(run)}"#, "keep_weights.max_mib: must be ≥ 1, got 0"),
        (#"{"keep_weights": {"max_mib": 2.5}, \#(run)}"#, "keep_weights.max_mib: expected an integer, got 2.5"),
        (#"{"keep_weights": {}, \#(run)}"#, "keep_weights.max_mib: missing required key"),
        (#"{"keep_weights": {"max_mb": 64}, \#(run)}"#, "keep_weights.max_mb: unknown key in keep_weights (valid: max_mib). Did you mean 'max_mib'?"),
        // Distributions
        (#"{"architecture": {"family": {"_type": "choise", "_value": ["mlp"]}}, \#(run)}"#,
         "architecture.family._type: unknown distribution 'choise' (valid: \(distributions)). Did you mean 'choice'?"),
        (#"{"architecture": {"width": {"_type": "uniform", "_value": [1, 2, 3]}}, \#(run)}"#, "architecture.width._value: expected 2 numbers, got 3"),
        (#"{"training": {"lr": {"_type": "qloguniform", "_value": [0.1, 1]}}, \#(run)}"#, "training.lr._value: expected 3 numbers, got 2"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": ["0.1", 1]}}, \#(run)}"#, "training.lr._value[0]: expected a number, got a string"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": [0, 1e999]}}, \#(run)}"#, "training.lr._value[1]: expected a finite number, got a number too large for a double"),
        (#"{"training": {"lr": {"_type": "loguniform", "_value": [0, 1]}}, \#(run)}"#, "training.lr._value: loguniform needs 0 < low < high, got [0, 1]"),
        (#"{"training": {"x": {"_type": "uniform", "_value": [1, 1]}}, \#(run)}"#, "training.x._value: uniform needs low < high, got [1, 1]"),
        (#"{"training": {"x": {"_type": "quniform", "_value": [0, 1, 0]}}, \#(run)}"#, "training.x._value: quniform needs q > 0, got 0"),
        (#"{"training": {"x": {"_type": "qloguniform", "_value": [1, 64, -1]}}, \#(run)}"#, "training.x._value: qloguniform needs q > 0, got -1"),
        (#"{"training": {"x": {"_type": "randint", "_value": [1, 4.5]}}, \#(run)}"#, "training.x._value[1]: expected an integer, got 4.5"),
        (#"{"training": {"x": {"_type": "randint", "_value": [5, 5]}}, \#(run)}"#, "training.x._value: randint needs lower < upper, got [5, 5]"),
        (#"{"training": {"x": {"_type": "normal", "_value": [0, -1]}}, \#(run)}"#, "training.x._value: normal needs sigma > 0, got -1"),
        (#"{"training": {"x": {"_type": "qlognormal", "_value": [0, 0, 1]}}, \#(run)}"#, "training.x._value: qlognormal needs sigma > 0, got 0"),
        (#"{"training": {"x": {"_type": "uniform", "_values": [0, 1]}}, \#(run)}"#,
         "training.x._values: unknown key in a distribution (valid: _type, _value). Did you mean '_value'?"),
        (#"{"training": {"x": {"_type": "uniform"}}, \#(run)}"#, "training.x._value: missing required key"),
        (#"{"training": {"x": {"_type": 3, "_value": [0, 1]}}, \#(run)}"#, "training.x._type: expected a string, got a number"),
        (#"{"training": {"x": {"_type": "uniform", "_value": 1}}, \#(run)}"#, "training.x._value: expected an array, got a number"),
        (#"{"training": {"x": {"_value": [0, 1]}}, \#(run)}"#, "training.x: has '_value' but no '_type' (a distribution needs both)"),
        // Choices and conditional options
        (#"{"architecture": {"widths": {"_type": "choice", "_value": []}}, \#(run)}"#, "architecture.widths._value: choice needs at least one option"),
        (#"{"training": {"bs": {"_type": "choice", "_value": [32, 64, 32.0]}}, \#(run)}"#, "training.bs._value[2]: duplicate option 32"),
        (#"{"training": {"_name": "x"}, \#(run)}"#, "training._name: '_name' marks an option of a choice; this object is not one"),
        (#"{"architecture": {"family": {"_type": "choice", "_value": [{"_name": ["mlp"]}]}}, \#(run)}"#,
         "architecture.family._value[0]._name: expected a string or a number, got an array"),
        (#"{"architecture": {"family": {"_type": "choice", "_value": [{"_name": "mlp", "activation": "gelu"}]}, "activation": "relu"}, \#(run)}"#,
         "architecture.family._value[0].activation: clashes with the field 'activation' of architecture"),
        (#"{"architecture": {"stages": [{"_type": "choice", "_value": [{"_name": "a", "k": 1}]}]}, \#(run)}"#,
         "architecture.stages[0]._value[0]._name: a named option merges its fields into the object holding the choice; this choice is an element of an array"),
        (#"{"training": {"_type": "choice", "_value": [{"_name": "a", "lr": 1}]}, \#(run)}"#,
         "training._value[0]._name: a named option merges its fields into the object holding the choice; a whole section has no enclosing object"),
        (#"{"architecture": {"family": {"_type": "choice", "_value": [{"_name": "mlp", "norm": {"_type": "choice", "_value": [{"_name": "batch", "m": 1}]}}]}}, \#(run)}"#,
         "architecture.family._value[0].norm._value[0]._name: a named option merges its fields into the object holding the choice; this choice is itself a field of a named option"),
        (#"{"architecture": {"family": {"_type": "choice", "_value": [{"_name": "a", "widths": [1]}]}, "head": {"_type": "choice", "_value": [{"_name": "b", "widths": [2]}]}}, \#(run)}"#,
         "architecture.head: its named options set 'widths', which the named options of architecture.family also set"),
        (#"{"architecture": {"family": {"_type": "choice", "_value": [{"_name": "a", "_type": "uniform"}]}}, \#(run)}"#,
         "architecture.family._value[0]._type: a named option cannot also be a distribution"),
        // Evaluators
        (#"{\#(lr)}"#, "evaluator: missing required key"),
        (#"{"evaluator": {"command": {"run": "x"}, "benchmark": {"problem": "zdt1"}}}"#,
         "evaluator: expected exactly one of engine, command, benchmark, meta, got command and benchmark"),
        (#"{"evaluator": {"comand": {"run": "x"}}}"#, "evaluator.comand: unknown evaluator 'comand' (valid: engine, command, benchmark, meta). Did you mean 'command'?"),
        (#"{\#(lr), "evaluator": {"command": {"run": ["python3", "t.py", "--lr={lrr}"]}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.run[2]: placeholder {lrr} names no parameter. Did you mean 'lr'?"),
        (#"{\#(lr), "evaluator": {"command": {"run": "t --x={momentum}"}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.run[1]: placeholder {momentum} names no parameter (parameters: training.lr)"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": [0, 1]}}, "architecture": {"lr": {"_type": "uniform", "_value": [0, 1]}}, "evaluator": {"command": {"run": "t {lr}"}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.run[1]: placeholder {lr} is ambiguous (training.lr, architecture.lr); write the full key path"),
        (#"{"evaluator": {"command": {"run": "  "}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.run: must name a program to run"),
        (#"{"evaluator": {"command": {"run": "t x{"}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.run[1]: '{' without a closing '}' in 'x{' (write '{{' for a literal brace)"),
        (#"{\#(lr), "evaluator": {"command": {"run": "t --lr={lr}", "persistent": true}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.run[1]: placeholder {lr} in a persistent command, which reads every candidate on stdin (write {{ and }} for literal braces)"),
        (#"{"evaluator": {"command": {"run": 3}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.run: expected a string or an array of strings, got a number"),
        (#"{"evaluator": {"command": {"run": ["t", 1]}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.run[1]: expected a string, got a number"),
        (#"{"evaluator": {"command": {"run": "t", "input": "stdn"}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.input: unknown input 'stdn' (valid: stdin, arguments). Did you mean 'stdin'?"),
        (#"{"evaluator": {"command": {"run": "t", "input": "arguments"}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.input: 'arguments' passes the candidate only through {placeholders}, and run has none"),
        (#"{"evaluator": {"command": {"run": "t {x}", "input": "arguments", "persistent": true}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.persistent: a persistent command reads candidates on stdin, so input cannot be 'arguments'"),
        (#"{"evaluator": {"command": {"run": "t", "timeout": 0}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.timeout: must be > 0, got 0"),
        (#"{"evaluator": {"command": {"run": "t", "env": {"SEED": 1}}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.env.SEED: expected a string, got a number"),
        (#"{"evaluator": {"command": {"run": "t", "timeot": 3}}, "objectives": {"loss": "minimize"}}"#,
         "evaluator.command.timeot: unknown key in evaluator.command (valid: run, input, timeout, persistent, cwd, env). Did you mean 'timeout'?"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "spirals", "train_subst": 10}}}, \#(engineObjectives)}"#,
         "evaluator.engine.data.train_subst: unknown key in data (valid: dataset, path, normalize, samples, classes, dimensions, vocabulary, dir, test_path, label_column, train_subset, test_subset, validation_fraction, sequence_length). Did you mean 'train_subset'?"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "spiral"}}}, \#(engineObjectives)}"#,
         "evaluator.engine.data.dataset: unknown value 'spiral' (valid: fashion-mnist, csv, blobs, spirals, markov). Did you mean 'spirals'?"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"samples": 10}}}, \#(engineObjectives)}"#, "evaluator.engine.data.dataset: missing required key"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": "many"}}}, \#(engineObjectives)}"#,
         "evaluator.engine.data.samples: expected an integer, got a string"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 2.5}}}, \#(engineObjectives)}"#,
         "evaluator.engine.data.samples: expected an integer, got 2.5"),
        (#"{\#(engine), "evaluator": {"engine": {"data": "spirals"}}, \#(engineObjectives)}"#, "evaluator.engine.data: expected an object, got a string"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "blobs", "samples": 1e20}}}, \#(engineObjectives)}"#,
         "evaluator.engine.data.samples: is too large for an integer, got 1e+20"),
        (#"{"evaluator": {"command": {"run": [""]}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.run[0]: the program name is empty"),
        (#"{"evaluator": {"command": {"run": "t", "cwd": ""}}, "objectives": {"loss": "minimize"}}"#, "evaluator.command.cwd: must not be empty"),
        (#"{\#(engine), "evaluator": {"engine": {"epochs": 3}}, \#(engineObjectives)}"#, "evaluator.engine.data: missing required key"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "spirals"}, "epochs": 0}}, \#(engineObjectives)}"#, "evaluator.engine.epochs: must be ≥ 1, got 0"),
        (#"{"architecture": {"family": "mlp", "widths": [8]}, "evaluator": {"engine": {"data": {"dataset": "spirals"}}}, \#(engineObjectives)}"#,
         "training: missing required key for the engine evaluator"),
        (#"{"architecture": {"family": "mlp"}, "evaluator": {"benchmark": {"problem": "zdt1"}}}"#,
         "architecture: a benchmark study has no candidate sections (the space is zdt1's 30 variables)"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt7"}}}"#,
         "evaluator.benchmark.problem: unknown benchmark problem 'zdt7' (valid: zdt1, zdt2, zdt3, zdt4, zdt6, dtlz1, dtlz2, dtlz3, dtlz4, dtlz5, dtlz6, dtlz7). Did you mean 'zdt1'?"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt1", "objectives": 3}}}"#, "evaluator.benchmark.objectives: zdt1 has 2 objectives, got 3"),
        (#"{"evaluator": {"benchmark": {"problem": "dtlz2", "variables": 2}}}"#, "evaluator.benchmark.variables: dtlz2 needs at least 3 variables, got 2"),
        // Objectives and constraints
        (#"{"evaluator": {"command": {"run": "t"}}}"#, "objectives: missing required key (the command evaluator needs at least one objective)"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": []}"#, "objectives: needs at least one objective"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": "loss"}"#, "objectives: expected an array or an object, got a string"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": {"loss": "minimise"}}"#,
         "objectives.loss: unknown direction 'minimise' (valid: minimize, maximize). Did you mean 'minimize'?"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": [{"metric": "loss"}]}"#, "objectives[0].direction: missing required key"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": [{"metric": "loss", "direction": "minimize"}, {"metric": "loss", "direction": "maximize"}]}"#,
         "objectives[1].metric: duplicate objective 'loss'"),
        (#"{"evaluator": {"command": {"run": "t"}}, "objectives": [{"metric": "loss", "goal": "minimize"}]}"#,
         "objectives[0].goal: unknown key in an objective (valid: metric, direction)"),
        (#"{\#(engine), "evaluator": {"engine": {"data": {"dataset": "spirals"}}}, "objectives": {"acuracy": "maximize"}}"#,
         "objectives.acuracy: unknown metric 'acuracy' (valid: accuracy, validation_accuracy, loss, params, flops, training_flops, peak_mib, epoch_seconds, train_seconds, samples_per_second, stored_kib, size_ratio, nonzero_params, sparsity, skipped_steps, inference_seconds). Did you mean 'accuracy'?"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt1"}}, "objectives": {"f3": "minimize"}}"#, "objectives.f3: unknown metric 'f3' (valid: f1, f2). Did you mean 'f1'?"),
        (#"{\#(run), "constraints": [{"metric": "params", "<=": 10, ">=": 1}]}"#, "constraints[0]: needs exactly one bound, '<=' or '>=', got 2"),
        (#"{\#(run), "constraints": [{"metric": "params"}]}"#, "constraints[0]: needs exactly one bound, '<=' or '>=', got 0"),
        (#"{\#(run), "constraints": [{"metric": "params", "<=": "10"}]}"#, "constraints[0].<=: expected a number, got a string"),
        (#"{\#(run), "constraints": [{"metric": "params", "<": 10}]}"#, "constraints[0].<: unknown key in a constraint (valid: metric, <=, >=). Did you mean '<='?"),
        (#"{\#(run), "constraints": {"metric": "params", "<=": 10}}"#, "constraints: expected an array, got an object"),
        // Strategy, early stopping, budget, seed, workers, name
        (#"{\#(run), "strategy": "nsga"}"#, "strategy: unknown strategy 'nsga' (valid: auto, random, grid, evolution, nsga2, smsemoa, rl, tpe). Did you mean 'nsga2'?"),
        (#"{\#(run), "strategy": {"population": 20}}"#, "strategy.name: missing required key"),
        (#"{\#(run), "strategy": 2}"#, "strategy: expected a name or an object with a name, got a number"),
        (#"{\#(lr), "evaluator": {"command": {"run": "t"}}, "objectives": {"loss": "minimize"}, "strategy": "grid"}"#,
         "strategy: grid needs a finite space; 'training.lr' is continuous"),
        (#"{"training": {"a": {"_type": "randint", "_value": [0, 1000]}, "b": {"_type": "randint", "_value": [0, 1001]}}, \#(run), "strategy": {"name": "grid"}}"#,
         "strategy: grid enumerates at most 1000000 candidates; this space has 1001000"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt1"}}, "strategy": "grid"}"#, "strategy: grid needs a finite space; 'x0' is continuous"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt1"}}, "early_stopping": {"name": "hyperband"}}"#,
         "early_stopping: a benchmark evaluator has no learning curves to stop early"),
        (#"{\#(run), "early_stopping": {"name": "hyperbnd"}}"#,
         "early_stopping.name: unknown early stopping 'hyperbnd' (valid: successive_halving, hyperband). Did you mean 'hyperband'?"),
        (#"{\#(run), "early_stopping": {"name": "hyperband", "reduction_factor": 1}}"#, "early_stopping.reduction_factor: must be ≥ 2, got 1"),
        (#"{\#(run), "early_stopping": {"name": "hyperband", "min_resource": 3, "max_resource": 2}}"#, "early_stopping.max_resource: must be ≥ min_resource (3), got 2"),
        (#"{\#(run), "budget": 0}"#, "budget: must be ≥ 1, got 0"),
        (#"{\#(run), "budget": 2.5}"#, "budget: expected an integer, got 2.5"),
        (#"{"training": {"n": {"_type": "randint", "_value": [0, 1e30]}}, \#(run)}"#,
         "training.n._value[1]: must be at most 9007199254740992 in magnitude (the largest integer drawn exactly), got 1e+30"),
        (#"{"training": {"n": {"_type": "randint", "_value": [-9.2e18, 9.2e18]}}, \#(run)}"#,
         "training.n._value[0]: must be at most 9007199254740992 in magnitude (the largest integer drawn exactly), got -9.2e+18"),
        (#"{"training": {"n": {"_type": "randint", "_value": [-9007199254740992, 9007199254740992]}}, \#(run)}"#,
         "training.n._value: randint needs upper − lower ≤ 9007199254740992 (the most values drawn exactly), got [-9007199254740992.0, 9007199254740992.0]"),
        (#"{\#(run), "budget": "10"}"#, "budget: expected a number of trials or an object with trials and/or minutes, got a string"),
        (#"{\#(run), "budget": {}}"#, "budget: needs trials, minutes or both"),
        (#"{\#(run), "budget": {"trails": 5}}"#, "budget.trails: unknown key in budget (valid: trials, minutes). Did you mean 'trials'?"),
        (#"{\#(run), "budget": {"minutes": -1}}"#, "budget.minutes: must be > 0, got -1"),
        (#"{\#(run), "seed": -1}"#, "seed: must be ≥ 0, got -1"),
        (#"{\#(run), "seed": "1"}"#, "seed: expected an integer, got a string"),
        (#"{\#(run), "seed": 1e19}"#, "seed: must be at most 9007199254740992 in magnitude (larger integers lose precision in JSON), got 1e+19"),
        (#"{\#(run), "workers": 0}"#, "workers: must be ≥ 1, got 0"),
        (#"{\#(run), "workers": true}"#, "workers: expected an integer, got a boolean"),
        (#"{\#(run), "name": "my study"}"#, "name: may hold only ASCII letters, digits, '-', '_' and '.', got 'my study'"),
        (#"{\#(run), "name": ""}"#, "name: must not be empty"),
        // An engine space is decoded as the engine's recipe before any trial runs
        (#"{\#(engine), "parallelism": {"tp": 2}, "evaluator": {"engine": {"data": {"dataset": "blobs"}}}, \#(engineObjectives)}"#,
         "parallelism: the engine evaluator trains on this machine and applies no parallel plan (cost plans with the meta evaluator, or run your own training with the command evaluator)"),
        (#"{"architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}, "epocs": 3}, "evaluator": {"engine": {"data": {"dataset": "blobs"}}}, \#(engineObjectives)}"#,
         "training.epocs: unknown key in training (valid: optimizer, schedule, epochs, steps, accumulation, seed, threads, batch_size, grad_clip). Did you mean 'epochs'?"),
        (#"{"architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": {"_type": "choice", "_value": ["sgd", "adamm"]}, "lr": 0.1}}, "evaluator": {"engine": {"data": {"dataset": "blobs"}}}, \#(engineObjectives)}"#,
         "training.optimizer.name: unknown optimizer 'adamm' (valid: adamw, adam, sgd, lamb). Did you mean 'adamw'?"),
        (#"{"architecture": {"family": "vit", "patch": 2, "dim": 8, "depth": 1, "heads": 2}, "training": {"optimizer": {"name": "sgd", "lr": 0.1}}, "compression": [{"method": "prune_channels", "ratio": 0.5}], "evaluator": {"engine": {"data": {"dataset": "blobs"}}}, \#(engineObjectives)}"#,
         "compression[0]: structured pruning supports the mlp and cnn families, not vit"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": [0, 1]}}, "evaluator": {"command": {"run": "t {lr}"}}, "objectives": {"loss": "minimize"}, "export": {"deepspeed": {"map": {"lrr": "optimizer.params.lr"}}}}"#,
         "export.deepspeed.map.lrr: 'lrr' names no parameter of the space. Did you mean 'lr'?"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": [0, 1]}}, "evaluator": {"command": {"run": "t {lr}"}}, "objectives": {"loss": "minimize"}, "export": {"deepspeed": {"map": {"lr": "optimizer..lr"}}}}"#,
         "export.deepspeed.map.lr: 'optimizer..lr' is not a dotted key path such as optimizer.params.lr"),
        (#"{"training": {"lr": {"_type": "uniform", "_value": [0, 1]}}, "evaluator": {"command": {"run": "t {lr}"}}, "objectives": {"loss": "minimize"}, "export": {"fsdp": {}}}"#,
         "export.fsdp: unknown key in the export section (valid: deepspeed, accelerate)"),
        (#"{"evaluator": {"benchmark": {"problem": "zdt1"}}, "export": {"deepspeed": {}}}"#,
         "export: only a command study maps its parameters for export (a benchmark study's export writes its own settings)"),
    ]

    func testEveryErrorHasItsExactMessage() {
        for (text, expected) in Self.corpus {
            do {
                let spec = try SpaceFile.parse(Data(text.utf8), file: "s.json")
                XCTFail("parsed, expected \"\(expected)\": \(text) → \(spec)")
            } catch let error as InputFileError {
                XCTAssertEqual(error.file, "s.json")
                XCTAssertEqual(error.reason, expected, text)
                XCTAssertFalse(error.description.contains("\n"), "one line: \(error.description)")
            } catch {
                XCTFail("\(type(of: error)) instead of InputFileError for \(text): \(error)")
            }
        }
        XCTAssertGreaterThanOrEqual(Self.corpus.count, 25)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try SpaceFile.load(path: "no/such/space.json")) { error in
            XCTAssertEqual(error as? InputFileError, InputFileError(file: "no/such/space.json", reason: "no such file"))
        }
    }

    /// Each corpus file differs from a valid one only where its message points: fixing that one
    /// place must make it parse (so the messages are not masking an earlier error).
    func testFixedCorpusFilesParse() throws {
        let fixes: [(String, String)] = [
            (#""_value": [0, 1]}}"#, #"{"training": {"lr": {"_type": "loguniform", "_value": [0.5, 1]}}, \#(Self.run)}"#),
            ("lrr", #"{\#(Self.lr), "evaluator": {"command": {"run": ["python3", "t.py", "--lr={lr}"]}}, "objectives": {"loss": "minimize"}}"#),
            ("spiral", #"{\#(Self.engine), "evaluator": {"engine": {"data": {"dataset": "spirals"}}}, \#(Self.engineObjectives)}"#),
            ("grid", #"{"training": {"a": {"_type": "randint", "_value": [0, 1000]}, "b": {"_type": "randint", "_value": [0, 1000]}}, \#(Self.run), "strategy": "grid"}"#),
            ("benchmark", #"{"evaluator": {"benchmark": {"problem": "zdt1"}}, "objectives": {"f2": "minimize"}, "strategy": "random"}"#),
        ]
        for (what, text) in fixes {
            XCTAssertNoThrow(try SpaceFile.parse(Data(text.utf8), file: "s.json"), what)
        }
    }
}
