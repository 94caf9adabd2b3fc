import CZlib
import Engine
import Foundation

/// A trained model as one file: what a study keeps of its Pareto-front members, and what rebuilds
/// the exact final model — compressed layers included — without training it again.
///
/// Layout, every number little-endian:
///
///     offset    size  what
///     0         8     magic, the ASCII bytes "ATWEIGHT"
///     8         4     format version, UInt32 (1)
///     12        4     header length H, UInt32
///     16        H     header: UTF-8 JSON, keys sorted
///     16+H      P     the tensors the header lists, in its order: f32 as IEEE-754 binary32, i8 as bytes
///     16+H+P    4     CRC-32 (zlib's) of every byte before it
///
/// The header's keys:
/// - `owner`: what the file belongs to, in the writer's words (a study and trial);
/// - `spec`, `input_shape`, `classes`: the architecture as a recipe spells it (after structured
///   pruning, the thinner one the pruned model was built from), the per-sample input and the classes;
/// - `seed`: the seed the layers were built with (decimal text);
/// - `activation_rounding`: `fp32`, or the format the engine rounded every layer's output to;
/// - `forms`: how the network differs from the one `spec` builds, in network order (see
///   `TrainedModelFile+Forms.swift`): low-rank factorization, int8 layers, fake-quantized inputs;
/// - `tensors`: `{"name", "type": "f32" | "i8", "count"}` for every parameter in the order the
///   model's store holds them, then each batch norm's `NAME.running_mean` and
///   `NAME.running_variance`, then the tensors of the forms.
///
/// Reading checks the magic, the version, the length, the checksum, and that every tensor fits
/// the model the header rebuilds, by name, type and count; any failure is a `Problem`, and the
/// file counts as absent. Writing checks that the file rebuilds the model it was made from —
/// the same layers, tensors and forms — and refuses a model it cannot keep faithfully.
///
///     let bytes = try TrainedModelFile.encode(model, seed: 1, activationRounding: .fp32, owner: "trial 3")
///     let kept = try TrainedModelFile.decode(bytes)    // kept.model: the same network and numbers
public enum TrainedModelFile {
    public static let magic = Array("ATWEIGHT".utf8)
    public static let version: UInt32 = 1
    /// The extension kept files get: `trial-12.weights`.
    public static let fileExtension = "weights"

    /// Why a model cannot be kept, or why a file does not read back as one; one line.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// The file of `model`, built with `seed`, whose activations the engine rounds to
    /// `activationRounding`.
    /// - Throws: `Problem` when the model holds a layer the format cannot rebuild exactly.
    public static func encode(_ model: Model, seed: UInt64, activationRounding: FloatFormat, owner: String) throws -> [UInt8] {
        let bytes = try write(model, seed: seed, activationRounding: activationRounding, owner: owner)
        let rebuilt: TrainedModel
        do { rebuilt = try decode(bytes) } catch let p as Problem {
            throw Problem("the model does not rebuild from its file: \(p.reason)")
        }
        guard try structure(rebuilt.model) == structure(model),
              try write(rebuilt.model, seed: seed, activationRounding: activationRounding, owner: owner) == bytes else {
            throw Problem("the model rebuilt from its file differs from it (a layer the format has no form for)")
        }
        return bytes
    }

    /// The model a file holds, in a new execution context.
    /// - Throws: `Problem` for a file that is truncated, fails its checksum, is of another version,
    ///   or whose tensors do not fit the model its header describes.
    public static func decode(_ bytes: [UInt8]) throws -> TrainedModel {
        let prefix = magic.count + 8
        guard bytes.count >= prefix + 4, Array(bytes[0..<magic.count]) == magic else {
            throw Problem("not a kept-weights file (no \"ATWEIGHT\" magic)")
        }
        let stored = readUInt32(bytes, at: bytes.count - 4)
        let actual = bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt(bytes.count - 4))) }
        guard stored == actual else { throw Problem("the checksum does not match (the file is damaged or cut short)") }
        let version = readUInt32(bytes, at: magic.count)
        guard version == Self.version else { throw Problem("format version \(version); this autotune reads version \(Self.version)") }
        let headerLength = Int(readUInt32(bytes, at: magic.count + 4))
        guard headerLength <= bytes.count - prefix - 4 else { throw Problem("the header runs past the end of the file") }
        let header: Header
        do {
            header = try JSONValue(parsing: Data(bytes[prefix..<(prefix + headerLength)])).decoded(as: Header.self)
        } catch {
            throw Problem("the header does not decode: \(error)")
        }
        let tensors = try TensorReader(header.tensors, bytes: bytes[(prefix + headerLength)..<(bytes.count - 4)])
        guard let seed = UInt64(header.seed) else { throw Problem("seed '\(header.seed)' is not an unsigned integer") }
        let base: Model
        do {
            base = try Model(spec: header.spec, inputShape: header.inputShape, classes: header.classes, context: ExecutionContext(), seed: seed)
        } catch {
            throw Problem("the architecture does not build: \(error)")
        }
        let model = try rebuild(base, forms: header.forms, tensors: tensors)
        for p in model.store.parameters {
            copy(try tensors.floats(p.name, count: p.count), into: p.value)
        }
        for s in ModelState.runningStatistics(model) {
            copy(try tensors.floats(s.layer.name + ".running_mean", count: s.mean.count), into: s.mean)
            copy(try tensors.floats(s.layer.name + ".running_variance", count: s.variance.count), into: s.variance)
        }
        try tensors.checkAllRead()
        return TrainedModel(model: model, activationRounding: header.activationRounding, seed: seed, owner: header.owner)
    }

    // MARK: Writing

    private static func write(_ model: Model, seed: UInt64, activationRounding: FloatFormat, owner: String) throws -> [UInt8] {
        var tensors = TensorWriter()
        for p in model.store.parameters { tensors.add(p.name, p.value.array) }
        for s in ModelState.runningStatistics(model) {
            tensors.add(s.layer.name + ".running_mean", s.mean.array)
            tensors.add(s.layer.name + ".running_variance", s.variance.array)
        }
        var forms: [Form] = []
        try describe(model.network, forms: &forms, tensors: &tensors)
        let header = Header(owner: owner, spec: model.spec, inputShape: model.inputShape, classes: model.classes, seed: String(seed),
                            activationRounding: activationRounding, forms: forms, tensors: tensors.entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = Array(try encoder.encode(header))
        var out = magic
        out.reserveCapacity(magic.count + 12 + json.count + tensors.payload.count)
        appendUInt32(Self.version, to: &out)
        appendUInt32(UInt32(json.count), to: &out)
        out += json
        out += tensors.payload
        let checksum = out.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt(out.count))) }
        appendUInt32(checksum, to: &out)
        return out
    }

    /// Every leaf's kind and name, and the network's output shape: what two models that the
    /// same file describes must share beyond their numbers.
    private static func structure(_ model: Model) throws -> [String] {
        NetworkSurgery.leaves(model.network).map { "\(type(of: $0)) \($0.name)" }
            + ["output \(try model.network.outputShape(for: model.inputShape))"]
    }

    private static func copy(_ values: [Float], into tensor: Tensor) {
        values.withUnsafeBufferPointer { v in
            if let base = v.baseAddress { tensor.data.update(from: base, count: v.count) }
        }
    }

    /// What the header holds (see the type's documentation).
    struct Header: Codable {
        var owner: String
        var spec: ArchitectureSpec
        var inputShape: [Int]
        var classes: Int
        var seed: String
        var activationRounding: FloatFormat
        var forms: [Form]
        var tensors: [TensorEntry]

        enum CodingKeys: String, CodingKey {
            case owner, spec, classes, seed, forms, tensors
            case inputShape = "input_shape", activationRounding = "activation_rounding"
        }
    }

    /// One tensor of the payload.
    struct TensorEntry: Codable, Equatable {
        enum Kind: String, Codable { case f32, i8 }
        var name: String
        var type: Kind
        var count: Int
        var bytes: Int { type == .f32 ? 4 * count : count }
    }
}

/// A model rebuilt from a kept file.
public struct TrainedModel {
    /// The final model, in its own FP32 execution context.
    public let model: Model
    /// What the engine rounded the model's activations to (`ONNXExporter`'s `activationRounding`).
    public let activationRounding: FloatFormat
    /// The seed its layers were built with.
    public let seed: UInt64
    /// What the file says it belongs to.
    public let owner: String
}

/// A trained model and what its file needs, encoded only when someone keeps it.
public struct FinalModel {
    public let model: Model
    public let seed: UInt64
    public let activationRounding: FloatFormat

    public init(model: Model, seed: UInt64, activationRounding: FloatFormat) {
        self.model = model; self.seed = seed; self.activationRounding = activationRounding
    }

    /// The model's kept-weights file (`TrainedModelFile`).
    public func file(owner: String) throws -> [UInt8] {
        try TrainedModelFile.encode(model, seed: seed, activationRounding: activationRounding, owner: owner)
    }
}

extension CompressionRunner {
    /// The final model of the last `run`, ready to be kept.
    public var finalModel: FinalModel? {
        model.map { FinalModel(model: $0, seed: modelSeed, activationRounding: activationRounding) }
    }
}

// MARK: - Tensors and numbers

/// Collects named tensors and their little-endian bytes.
struct TensorWriter {
    private(set) var entries: [TrainedModelFile.TensorEntry] = []
    private(set) var payload: [UInt8] = []

    mutating func add(_ name: String, _ values: [Float]) {
        entries.append(.init(name: name, type: .f32, count: values.count))
        #if _endian(little)
        values.withUnsafeBytes { payload += $0 }
        #else
        for v in values { appendUInt32(v.bitPattern, to: &payload) }
        #endif
    }

    mutating func add(_ name: String, _ codes: [Int8]) {
        entries.append(.init(name: name, type: .i8, count: codes.count))
        payload += codes.map { UInt8(bitPattern: $0) }
    }
}

/// The payload's tensors by name; each is read once, and all must be read.
final class TensorReader {
    private var slices: [String: (entry: TrainedModelFile.TensorEntry, start: Int)] = [:]
    private var read = Set<String>()
    private let bytes: ArraySlice<UInt8>

    init(_ entries: [TrainedModelFile.TensorEntry], bytes: ArraySlice<UInt8>) throws {
        self.bytes = bytes
        var offset = bytes.startIndex
        for e in entries {
            guard e.count >= 0, slices[e.name] == nil else {
                throw TrainedModelFile.Problem("tensor '\(e.name)' is listed twice or has a negative count")
            }
            slices[e.name] = (e, offset)
            offset += e.bytes
            guard offset <= bytes.endIndex else { throw TrainedModelFile.Problem("the tensors run past the end of the file") }
        }
        guard offset == bytes.endIndex else {
            throw TrainedModelFile.Problem("\(bytes.endIndex - offset) bytes after the last tensor")
        }
    }

    private func entry(_ name: String, _ type: TrainedModelFile.TensorEntry.Kind, count: Int?) throws -> (TrainedModelFile.TensorEntry, Int) {
        guard let (e, start) = slices[name] else { throw TrainedModelFile.Problem("no tensor '\(name)' for the model it describes") }
        guard e.type == type, count.map({ $0 == e.count }) ?? true else {
            throw TrainedModelFile.Problem("tensor '\(name)' is \(e.count) \(e.type.rawValue) values; the model needs \(count.map(String.init) ?? "some") \(type.rawValue)")
        }
        guard read.insert(name).inserted else { throw TrainedModelFile.Problem("tensor '\(name)' is read twice") }
        return (e, start)
    }

    func floats(_ name: String, count: Int? = nil) throws -> [Float] {
        let (e, start) = try entry(name, .f32, count: count)
        #if _endian(little)
        return [Float](unsafeUninitializedCapacity: e.count) { out, initialized in
            bytes[start..<(start + 4 * e.count)].withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
            initialized = e.count
        }
        #else
        return (0..<e.count).map { Float(bitPattern: readUInt32(bytes, at: start + 4 * $0)) }
        #endif
    }

    func codes(_ name: String, count: Int) throws -> [Int8] {
        let (e, start) = try entry(name, .i8, count: count)
        return bytes[start..<(start + e.count)].map { Int8(bitPattern: $0) }
    }

    func checkAllRead() throws {
        let unread = Set(slices.keys).subtracting(read).sorted()
        guard unread.isEmpty else {
            throw TrainedModelFile.Problem("tensors the model has no place for: \(unread.prefix(3).joined(separator: ", "))")
        }
    }
}

func appendUInt32(_ v: UInt32, to bytes: inout [UInt8]) {
    bytes += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
}

func readUInt32<C: RandomAccessCollection>(_ bytes: C, at offset: C.Index) -> UInt32 where C.Element == UInt8, C.Index == Int {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
