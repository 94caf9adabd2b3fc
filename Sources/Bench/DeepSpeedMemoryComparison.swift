import Foundation
import Parallel

/// Model-state memory per GPU as `ModelStateMemory` counts it, against DeepSpeed's own estimators
/// (`estimate_zero2_model_states_mem_needs_all_cold` and
/// `estimate_zero3_model_states_mem_needs_all_cold`, run by `peers/deepspeed_memory.py` in a
/// Python environment with DeepSpeed) over a fixed table: six GPT sizes × 1 or 8 GPUs per node ×
/// 1, 4 or 16 nodes × ZeRO-2 (nothing or the optimizer offloaded) and ZeRO-3 (nothing, the
/// optimizer, or the optimizer and the parameters offloaded) — 180 rows, pure data parallelism
/// as the estimators assume.
///
/// Records: `deepspeed.memory.max_error` and `deepspeed.memory.mean_error` (%, of the GPU bytes).
public struct DeepSpeedMemoryComparison: Sendable {
    /// A model: its parameters Ψ and its largest layer L (the token embedding, vocabulary ×
    /// hidden, for all six: larger than any one matrix of their layers).
    public struct Model: Sendable {
        public var name: String
        public var parameters: Int
        public var largestLayer: Int
    }

    /// GPT-3's sizes (Brown et al. 2020, Table 2.1: vocabulary 50,257; hidden 2048, 4096, 5140,
    /// 12288), OPT-30B (Zhang et al. 2022: hidden 7168, vocabulary 50,272) and Llama 2 70B
    /// (Touvron et al. 2023: hidden 8192, vocabulary 32,000), at their published parameter counts.
    public static let models: [Model] = [
        Model(name: "1.3B", parameters: 1_300_000_000, largestLayer: 50_257 * 2048),
        Model(name: "6.7B", parameters: 6_700_000_000, largestLayer: 50_257 * 4096),
        Model(name: "13B", parameters: 13_000_000_000, largestLayer: 50_257 * 5140),
        Model(name: "30B", parameters: 30_000_000_000, largestLayer: 50_272 * 7168),
        Model(name: "70B", parameters: 70_000_000_000, largestLayer: 32_000 * 8192),
        Model(name: "175B", parameters: 175_000_000_000, largestLayer: 50_257 * 12288),
    ]

    /// One row of the table.
    public struct Row: Sendable, Encodable {
        public var model: String
        public var parameters: Int
        public var largestLayer: Int
        public var gpusPerNode: Int
        public var nodes: Int
        public var zero: Int
        public var offload: StateOffload

        enum CodingKeys: String, CodingKey {
            case parameters, zero, offload, nodes
            case largestLayer = "largest_layer"
            case gpusPerNode = "gpus_per_node"
        }

        /// Our bytes per GPU.
        public var ours: Double {
            ModelStateMemory(parameterCount: Double(parameters), largestLayerParameters: Double(largestLayer), zero: zero,
                             dataParallel: gpusPerNode * nodes, offload: offload).total
        }
    }

    public static var rows: [Row] {
        var rows: [Row] = []
        for m in models {
            for gpus in [1, 8] {
                for nodes in [1, 4, 16] {
                    for (zero, offload) in [(2, StateOffload.none), (2, .optimizer), (3, .none), (3, .optimizer), (3, .optimizerAndParameters)] {
                        rows.append(Row(model: m.name, parameters: m.parameters, largestLayer: m.largestLayer, gpusPerNode: gpus,
                                        nodes: nodes, zero: zero, offload: offload))
                    }
                }
            }
        }
        return rows
    }

    /// The interpreter of the Python environment with DeepSpeed: `$AUTOTUNE_DEEPSPEED_VENV/bin/python`,
    /// else `$HOME/.cache/autotune/export-venv/bin/python`; nil when neither exists.
    public static func python(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let venv = environment["AUTOTUNE_DEEPSPEED_VENV"]
            ?? environment["HOME"].map { $0 + "/.cache/autotune/export-venv" }
        guard let venv else { return nil }
        let python = venv + "/bin/python"
        return FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }

    public static let script = "Sources/Bench/peers/deepspeed_memory.py"

    /// DeepSpeed's GPU bytes for every row, from the peer script run by `python`, and its version.
    public static func deepSpeedBytes(python: String, rows: [Row]) throws -> (version: String, gpu: [Double]) {
        guard FileManager.default.fileExists(atPath: script) else { throw PeerError(reason: "\(script) not found (run from the package root)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        var environment = ProcessInfo.processInfo.environment
        environment["DS_ACCELERATOR"] = "cpu"
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input; process.standardOutput = output; process.standardError = errors
        do { try process.run() } catch { throw PeerError(reason: "cannot start \(python): \(error)") }
        input.fileHandleForWriting.write(try JSONEncoder().encode(rows))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw PeerError(reason: "\(script) exited with status \(process.terminationStatus): \(last)")
        }
        struct Answer: Decodable { struct Bytes: Decodable { var gpu: Double }; var deepspeed: String; var rows: [Bytes] }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: data), answer.rows.count == rows.count else {
            throw PeerError(reason: "\(script) did not print one answer per row")
        }
        return (answer.deepspeed, answer.rows.map(\.gpu))
    }

    /// A failure of the peer script.
    public struct PeerError: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "DeepSpeed memory: \(reason)" }
    }

    /// The table's lines and its records, DeepSpeed run by `python`.
    public static func run(python: String) throws -> (records: [BenchRecord], lines: [String]) {
        let rows = Self.rows
        let (version, theirs) = try deepSpeedBytes(python: python, rows: rows)
        var errors: [Double] = []
        var lines = ["DeepSpeed memory: model states per GPU, ours against DeepSpeed \(version)'s estimators (GiB)",
                     "model   GPUs/node nodes ZeRO offload                    DeepSpeed       ours   error"]
        for (row, ds) in zip(rows, theirs) {
            let ours = row.ours
            let error = 100 * abs(ours - ds) / ds
            errors.append(error)
            func padded(_ s: String, _ width: Int) -> String { s.padding(toLength: max(width, s.count), withPad: " ", startingAt: 0) }
            lines.append(padded(row.model, 7) + String(format: " %9d %5d %4d ", row.gpusPerNode, row.nodes, row.zero)
                         + padded(row.offload.rawValue, 24) + String(format: " %10.3f %10.3f %6.3f%%", ds / 1_073_741_824, ours / 1_073_741_824, error))
        }
        let maxError = errors.max() ?? 0, meanError = errors.reduce(0, +) / Double(max(errors.count, 1))
        lines.append(String(format: "DeepSpeed memory: %d rows, max error %.4f%%, mean error %.4f%%", rows.count, maxError, meanError))
        return ([BenchRecord(suite: "costmodel", name: "deepspeed.memory.max_error", value: maxError, unit: "%", better: .lower),
                 BenchRecord(suite: "costmodel", name: "deepspeed.memory.mean_error", value: meanError, unit: "%", better: .lower)], lines)
    }
}
