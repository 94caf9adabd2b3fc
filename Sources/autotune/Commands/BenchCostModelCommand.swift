import Bench
import Foundation

/// `autotune bench costmodel`: the training cost model against published throughput, and how fast it answers.
struct BenchCostModelCommand: Command {
    static let configuration = CommandConfiguration(
        name: "costmodel",
        abstract: "Compare the training cost model with published throughput — Megatron-LM's Table 1 (Narayanan et al. 2021; the calibration set) and Korthikanti et al. 2022's Table 5 (validation) — and its model-state memory with DeepSpeed's estimators; time an estimate and a meta study.",
        options: [
            .json,
            .value("hardware", valueName: "NAME", help: "The profile the rows are estimated on.", default: "A100-SXM-80GB"),
            .flag("no-calibrate", help: "Only the profile's own efficiency factors: skip the fitted and leave-one-out errors."),
            .flag("no-speed", help: "Skip the speed records (an estimate of a 405B-like model on 16,384 GPUs; a meta study of 2,000 plans)."),
            .flag("no-deepspeed", help: "Skip the DeepSpeed memory table (model states per GPU against DeepSpeed's estimators, run in $AUTOTUNE_DEEPSPEED_VENV or $HOME/.cache/autotune/export-venv)."),
            .quiet,
        ])

    var json: Bool
    var hardware: String
    var calibrate: Bool
    var speed: Bool
    var deepSpeed: Bool
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        hardware = try values.value("hardware")
        calibrate = !values.flag("no-calibrate")
        speed = !values.flag("no-speed")
        deepSpeed = !values.flag("no-deepspeed")
        quiet = values.flag("quiet")
    }

    func run() throws -> Int32 {
        var bench = CostModelBenchmark()
        bench.profileName = hardware
        bench.calibrate = calibrate
        bench.speed = speed
        if deepSpeed {
            bench.deepSpeedPython = DeepSpeedMemoryComparison.python()
            if bench.deepSpeedPython == nil {
                FileHandle.standardError.write(Data(("autotune: note: DeepSpeed memory table skipped: no Python environment with DeepSpeed "
                    + "at $AUTOTUNE_DEEPSPEED_VENV or $HOME/.cache/autotune/export-venv\n").utf8))
            }
        }
        let (records, rows) = try bench.run(progress: Output.progress(quiet: quiet || json))
        let report = BenchReport(results: records, host: HostInfo.current(threads: 1))
        if json {
            try Output.printJSON(report)
        } else {
            print(rows.joined(separator: "\n"))
            print()
            print(report.table)
        }
        return 0
    }
}
