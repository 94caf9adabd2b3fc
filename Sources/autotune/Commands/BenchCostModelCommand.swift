import Bench
import Foundation

/// `autotune bench costmodel`: the training cost model against Megatron-LM's published throughput.
struct BenchCostModelCommand: Command {
    static let configuration = CommandConfiguration(
        name: "costmodel",
        abstract: "Compare the training cost model with the per-GPU throughput Megatron-LM published (Narayanan et al. 2021, Table 1).",
        options: [
            .json,
            .value("hardware", valueName: "NAME", help: "The profile the rows are estimated on.", default: "A100-SXM-80GB"),
            .flag("no-calibrate", help: "Only the profile's own efficiency factors: skip the fitted and leave-one-out errors."),
            .quiet,
        ])

    var json: Bool
    var hardware: String
    var calibrate: Bool
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        hardware = try values.value("hardware")
        calibrate = !values.flag("no-calibrate")
        quiet = values.flag("quiet")
    }

    func run() throws -> Int32 {
        var bench = CostModelBenchmark()
        bench.profileName = hardware
        bench.calibrate = calibrate
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
