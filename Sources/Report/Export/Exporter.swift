import Engine
import Foundation
import Search

/// What `autotune export` can write.
public enum ExportFormat: String, CaseIterable, Sendable {
    case deepspeed, accelerate, recipe, onnx, pytorch

    /// The format called `name`; an unknown name throws a `ReportError` listing the formats.
    public static func named(_ name: String) throws -> ExportFormat {
        if let f = ExportFormat(rawValue: name.lowercased()) { return f }
        let names = allCases.map(\.rawValue)
        var reason = "unknown export format '\(name)' (formats: \(names.joined(separator: ", ")))"
        if let near = closestMatch(to: name, among: names) { reason += ". Did you mean '\(near)'?" }
        throw ReportError(reason)
    }

    /// What the format writes, in a few words.
    public var summary: String {
        switch self {
        case .deepspeed: return "ds_config.json and launch.sh (Megatron-DeepSpeed flags for an LLM plan)"
        case .accelerate: return "accelerate.yaml (and its ds_config under DeepSpeed)"
        case .recipe: return "recipe.json, which 'autotune eval' or 'autotune estimate' reruns"
        case .onnx: return "model.onnx, the engine trial's model"
        case .pytorch: return "pytorch/: train.py with the trial's data, ds_config.json and accelerate.yaml"
        }
    }

    /// Whether `spec`'s study has anything to export as `format` (a command study, what its
    /// `export` section maps).
    public static func usable(_ format: ExportFormat, spec: StudySpec) -> Bool {
        switch (format, spec.evaluator) {
        case (.recipe, _): return true
        case (.deepspeed, .engine), (.deepspeed, .meta), (.accelerate, .engine), (.accelerate, .meta): return true
        case (.deepspeed, .command): return spec.export?.deepspeed != nil
        case (.accelerate, .command): return spec.export?.accelerate != nil
        case (.onnx, .engine), (.pytorch, .engine): return true
        default: return false
        }
    }

    /// The main file's name under `results/<study>/` (for pytorch, inside its folder `pytorch/`).
    public var fileName: String {
        switch self {
        case .deepspeed: return "ds_config.json"
        case .accelerate: return "accelerate.yaml"
        case .recipe: return "recipe.json"
        case .onnx: return "model.onnx"
        case .pytorch: return "train.py"
        }
    }
}

/// One file an export writes.
public struct ExportFile: Equatable, Sendable {
    public var path: String
    /// The file's bytes: UTF-8 text for the configs, protobuf for an ONNX model.
    public var contents: Data
    /// Whether `contents` is text a terminal can show.
    public var isText: Bool
    public init(path: String, text: String) { self.path = path; contents = Data(text.utf8); isText = true }
    public init(path: String, binary: Data) { self.path = path; contents = binary; isText = false }
    /// The contents as text (binary files decode lossily; check `isText`).
    public var text: String { String(decoding: contents, as: UTF8.self) }
}

/// An export: its files (the main one first, then those it refers to), what could not be carried
/// over, and the commands that use it.
public struct ExportOutput: Equatable, Sendable {
    public var files: [ExportFile]
    /// Settings carried over approximately, and what a person must still fill in.
    public var warnings: [String]
    public var commands: [String]
    /// What the export found out on the way (an ONNX export's retrained accuracy).
    public var notes: [String] = []
    /// Settings of the trial the files do not carry: launched as written, the job is not the
    /// trial. `autotune export` refuses such an export unless `--allow-loss` is given.
    public var lost: [String] = []
}

/// Turns a picked trial into the files of a format. The one place a format is routed to its
/// writer.
public enum Exporter {
    /// The files of `format` for `picked`, the main one at `path` and its companions beside it
    /// (`launch.sh` next to a ds_config; `<name>_ds_config.json` next to an Accelerate config `<name>.yaml`
    /// that runs under DeepSpeed).
    /// - Throws: `ReportError` when the study has nothing of that format to export (a benchmark
    ///   study has no training job), or when a generated DeepSpeed config breaks the schema.
    /// For pytorch, `path` is `train.py` inside the folder that gets the data, ds_config.json,
    /// accelerate.yaml and README.txt too.
    /// - Parameters:
    ///   - stack: the training stack a ZeRO plan runs on under Accelerate.
    ///   - progress: receives a line per epoch when the format trains the model again (onnx).
    ///   - notice: receives the one line a person should see even without progress: the model's
    ///     weights were not kept, so it is trained again.
    public static func export(_ picked: PickedTrial, as format: ExportFormat, to path: String, stack: ExportStack = .deepspeed,
                              progress: ((String) -> Void)? = nil, notice: ((String) -> Void)? = nil) throws -> ExportOutput {
        let directory = (path as NSString).deletingLastPathComponent
        func beside(_ name: String) -> String { directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name) }
        if case .command(let command) = picked.spec.evaluator, format != .onnx {
            switch format {
            case .deepspeed: return try CommandExport.deepspeed(picked, command, to: path, beside: beside, title: title(picked))
            case .accelerate: return try CommandExport.accelerate(picked, command, to: path)
            default: return try CommandExport.recipe(picked, command, to: path, beside: beside)
            }
        }
        switch format {
        case .recipe:
            let commands = picked.rerunCommand(recipePath: path).map { [$0] } ?? []
            return ExportOutput(files: [ExportFile(path: path, text: picked.recipe.document.prettyText + "\n")], warnings: [], commands: commands)
        case .deepspeed:
            let setup = try trainingSetup(picked, format)
            let job = try deepSpeedJob(setup)
            let (deepspeed, torchrun) = DeepSpeedExport.launchCommands(setup, configPath: path)
            let script = DeepSpeedExport.launchScript(setup, configPath: path, title: title(picked))
            return ExportOutput(files: [ExportFile(path: path, text: job.config.prettyText + "\n"), ExportFile(path: beside("launch.sh"), text: script)],
                                warnings: job.warnings, commands: [deepspeed, torchrun], lost: job.lost)
        case .accelerate:
            let setup = try trainingSetup(picked, format)
            // Named after the YAML, so that it never overwrites a ds_config exported on its own
            // (possibly of another trial) in the same directory.
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let dsPath = beside(stem + "_" + ExportFormat.deepspeed.fileName)
            let yaml = AccelerateExport.yaml(setup, stack: stack, deepSpeedConfigPath: dsPath)
            var output = ExportOutput(files: [ExportFile(path: path, text: yaml.text)], warnings: yaml.warnings,
                                      commands: ["accelerate launch --config_file \(shellQuoted(path)) train.py"], lost: yaml.lost)
            if yaml.type == .deepspeed {
                let job = try deepSpeedJob(setup)
                output.files.append(ExportFile(path: dsPath, text: job.config.prettyText + "\n"))
                output.warnings += job.warnings
                output.lost += job.lost
            }
            return output
        case .onnx:
            let trained = try ONNXTrialExport.export(picked, progress: progress, notice: notice)
            return ExportOutput(files: [ExportFile(path: path, binary: trained.model)], warnings: [],
                                commands: ["python3 -c \"import onnxruntime as ort; print(ort.InferenceSession('\(path)').get_inputs()[0])\""],
                                notes: [trained.summary])
        case .pytorch:
            return try PyTorchExport.export(picked, scriptPath: path)
        }
    }

    /// The launch script's heading: "autotune export of study 'q', trial 12 (knee)."
    static func title(_ p: PickedTrial) -> String {
        "autotune export of study '\(p.study.name)', trial \(p.trial.number) (\(p.choice))."
    }

    private static func trainingSetup(_ picked: PickedTrial, _ format: ExportFormat) throws -> TrainingSetup {
        guard let setup = picked.setup else {
            throw ReportError("study '\(picked.study.name)' is a \(picked.spec.evaluator.name) study: it has no training job to export as \(format.rawValue); use --format recipe")
        }
        return setup
    }

    static func deepSpeedJob(_ setup: TrainingSetup) throws -> DeepSpeedExport.Job {
        let job = DeepSpeedExport.config(setup)
        let problems = DeepSpeedSchema.violations(job.config)
        guard problems.isEmpty else {
            throw ReportError("the generated ds_config breaks DeepSpeed's schema: \(problems.joined(separator: "; "))", kind: .tool)
        }
        return job
    }
}
