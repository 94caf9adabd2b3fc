import Compression
import Engine
import Foundation
import XCTest
@testable import Report

/// The kept weights of a pytorch export: each family's engine tensors under the generated
/// `Model`'s state_dict names, in PyTorch's layouts (positions worked out by hand here), and —
/// with PyTorch installed — loaded into the generated model, which then gives the engine's logits.
final class ExportPyTorchWeightsTests: XCTestCase {
    static let mlp = ArchitectureSpec.mlp(MLPSpec(widths: [5, 4], activation: .gelu, dropout: 0.1, norm: .batch))
    static let cnn = ArchitectureSpec.cnn(CNNSpec(stages: [
        CNNStage(channels: 4, batchnorm: true, pool: .max),
        CNNStage(channels: 6, blocks: 2, residual: true, batchnorm: true),
        CNNStage(channels: 5, depthwise: true),
    ], head: [7], activation: .silu))
    static let vit = ArchitectureSpec.vit(ViTSpec(patch: 2, dim: 8, depth: 2, heads: 2, mlpRatio: 2))
    static let gpt = ArchitectureSpec.gpt(GPTSpec(layers: 2, hidden: 8, heads: 2, sequenceLength: 6, vocabulary: 11))

    /// A model with every parameter drawn at random (so no two layouts agree by accident) and its
    /// batch norms' running statistics moved by training-mode forwards.
    private func model(_ spec: ArchitectureSpec, _ shape: [Int], classes: Int) throws -> Model {
        let m = try Model(spec: spec, inputShape: shape, classes: classes, context: ExecutionContext(), seed: 3)
        var rng = RandomSource(seed: 9)
        for p in m.network.parameters { for i in 0..<p.value.count { p.value.data[i] = 2 * rng.nextFloat() - 1 } }
        for _ in 0..<3 { _ = m.forward(input(m, batch: 4, &rng), training: true) }
        return m
    }

    private func input(_ m: Model, batch: Int, _ rng: inout RandomSource) -> Tensor {
        let x = Tensor(shape: [batch] + m.inputShape, context: m.context)
        for i in 0..<x.count { x.data[i] = m.spec.family == "gpt" ? Float(rng.nextInt(below: m.classes)) : 2 * rng.nextFloat() - 1 }
        return x
    }

    private func byName(_ entries: [PyTorchStateDict.Entry]) -> [String: PyTorchStateDict.Entry] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
    }

    private func layer<T: Layer>(_ m: Model, _ name: String, as type: T.Type) throws -> T {
        try XCTUnwrap(NetworkSurgery.leaves(m.network).first { $0.name == name } as? T, name)
    }

    func testMLPWithBatchNormMapsLinearsRunningStatisticsAndTheFlattenedImage() throws {
        let m = try model(Self.mlp, [3, 2, 2], classes: 3)
        let entries = try PyTorchStateDict.entries(of: m)
        // Flatten 0, Linear 1, BatchNorm1d 2, GELU 3, Dropout 4, Linear 5, BatchNorm1d 6, GELU 7, Dropout 8, Linear 9.
        let bn = ["weight", "bias", "running_mean", "running_var"]
        XCTAssertEqual(entries.map(\.name), ["layers.1.weight", "layers.1.bias"] + bn.map { "layers.2." + $0 }
                       + ["layers.5.weight", "layers.5.bias"] + bn.map { "layers.6." + $0 } + ["layers.9.weight", "layers.9.bias"])
        let d = byName(entries)
        XCTAssertEqual(d["layers.1.weight"]?.shape, [5, 12])
        // The image is 3×2×2 (h, w, c): torch's column (c·3 + y)·2 + x is the engine's (y·2 + x)·2 + c.
        // Row 2, y 1, x 0, c 1: torch column 8, engine column 5.
        let fc0 = try layer(m, "fc0", as: Linear.self)
        XCTAssertEqual(d["layers.1.weight"]?.values[2 * 12 + 8], fc0.weight.value.data[2 * 12 + 5])
        XCTAssertEqual(d["layers.1.weight"]?.values[0], fc0.weight.value.data[0])
        let norm = try layer(m, "fc1.bn", as: BatchNorm.self)
        XCTAssertEqual(d["layers.6.running_mean"]?.values, norm.runningMean?.array)
        XCTAssertEqual(d["layers.6.running_var"]?.values, norm.runningVariance?.array)
        XCTAssertNotEqual(norm.runningVariance?.array, [1, 1, 1, 1], "the statistics moved")
        XCTAssertEqual(d["layers.6.weight"]?.values, norm.scale.value.array)
        // The classifier reads features, not an image: its weight as is.
        XCTAssertEqual(d["layers.9.weight"]?.values, try layer(m, "classifier", as: Linear.self).weight.value.array)
    }

    func testCNNMapsFiltersToOIHWThroughResidualAndDepthwiseBlocks() throws {
        let m = try model(Self.cnn, [8, 8, 2], classes: 3)
        let entries = try PyTorchStateDict.entries(of: m)
        let bn = ["weight", "bias", "running_mean", "running_var"]
        // Conv 0, BN 1, SiLU 2, MaxPool 3 | Conv 4, BN 5, SiLU 6, Residual 7 (body: conv 0, BN 1, SiLU 2, conv 3, BN 4), SiLU 8
        // | depthwise 9, pointwise 10, SiLU 11 | Flatten 12, Linear 13, SiLU 14, Linear 15.
        XCTAssertEqual(entries.map(\.name), ["layers.0.weight"] + bn.map { "layers.1." + $0 } + ["layers.4.weight"] + bn.map { "layers.5." + $0 }
                       + ["layers.7.body.0.weight"] + bn.map { "layers.7.body.1." + $0 } + ["layers.7.body.3.weight"] + bn.map { "layers.7.body.4." + $0 }
                       + ["layers.9.weight", "layers.9.bias", "layers.10.weight", "layers.10.bias",
                          "layers.13.weight", "layers.13.bias", "layers.15.weight", "layers.15.bias"])
        let d = byName(entries)
        XCTAssertEqual(d["layers.4.weight"]?.shape, [6, 4, 3, 3])
        XCTAssertEqual(d["layers.9.weight"]?.shape, [6, 1, 3, 3])
        XCTAssertEqual(d["layers.10.weight"]?.shape, [5, 6, 1, 1])
        XCTAssertEqual(d["layers.13.weight"]?.shape, [7, 80], "4×4×5 features")
        // OIHW [o 5][i 2][ky 1][kx 0] is the engine's (k, k, cin, cout) [1][0][2][5].
        let conv = try layer(m, "stage1.block0.conv", as: Conv2d.self)
        XCTAssertEqual(d["layers.4.weight"]?.values[((5 * 4 + 2) * 3 + 1) * 3 + 0], conv.weight.value.data[((1 * 3 + 0) * 4 + 2) * 6 + 5])
        // Depthwise (C, 1, k, k) [c 4][ky 2][kx 1] is the engine's (k, k, C) [2][1][4].
        let depthwise = try XCTUnwrap(NetworkSurgery.leaves(m.network).compactMap { $0 as? DepthwiseSeparableConv2d }.first)
        XCTAssertEqual(d["layers.9.weight"]?.values[(4 * 3 + 2) * 3 + 1], depthwise.depthwise.weight.value.data[(2 * 3 + 1) * 6 + 4])
        XCTAssertEqual(d["layers.10.weight"]?.values[3 * 6 + 2], depthwise.pointwise.weight.value.data[2 * 5 + 3])
        let residual = try layer(m, "stage1.block1.b.bn", as: BatchNorm.self)
        XCTAssertEqual(d["layers.7.body.4.running_var"]?.values, residual.runningVariance?.array)
        // The head's first Linear reads a 4×4×5 map flattened NCHW: torch column (c·4 + y)·4 + x = engine (y·4 + x)·5 + c.
        let head = try layer(m, "head0", as: Linear.self)
        XCTAssertEqual(d["layers.13.weight"]?.values[6 * 80 + (3 * 4 + 1) * 4 + 2], head.weight.value.data[6 * 80 + (1 * 4 + 2) * 5 + 3])
    }

    func testViTMapsThePatchProjectionToAConvolutionAndBlocksByName() throws {
        let m = try model(Self.vit, [4, 4, 3], classes: 3)
        let entries = try PyTorchStateDict.entries(of: m)
        let block = ["ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                     "ln2.weight", "ln2.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]
        XCTAssertEqual(entries.map(\.name), ["patch_embed.proj.weight", "patch_embed.proj.bias", "patch_embed.positions"]
                       + block.map { "blocks.0." + $0 } + block.map { "blocks.1." + $0 }
                       + ["final_ln.weight", "final_ln.bias", "classifier.weight", "classifier.bias"])
        let d = byName(entries)
        XCTAssertEqual(d["patch_embed.proj.weight"]?.shape, [8, 3, 2, 2])
        // Conv weight [o 6][c 2][py 1][px 0] is the engine's (d, p·p·C) row 6, column (1·2 + 0)·3 + 2.
        let patch = try XCTUnwrap(m.network.layers.first as? PatchEmbedding)
        XCTAssertEqual(d["patch_embed.proj.weight"]?.values[((6 * 3 + 2) * 2 + 1) * 2 + 0], patch.weight.value.data[6 * 12 + 8])
        XCTAssertEqual(d["patch_embed.positions"]?.values, patch.positions.value.array)
        let attention = try layer(m, "block1.attn", as: MultiHeadSelfAttention.self)
        XCTAssertEqual(d["blocks.1.attn.qkv.weight"]?.shape, [24, 8])
        XCTAssertEqual(d["blocks.1.attn.qkv.weight"]?.values, attention.qkvWeight.value.array, "Q, K, V rows head by head, as SelfAttention views them")
        XCTAssertEqual(d["blocks.1.mlp.2.weight"]?.values, try layer(m, "block1.mlp.proj", as: Linear.self).weight.value.array)
    }

    func testGPTMapsEmbeddingsAndLeavesTheTiedHeadToTheTokenTable() throws {
        let m = try model(Self.gpt, [6], classes: 11)
        let d = byName(try PyTorchStateDict.entries(of: m))
        XCTAssertEqual(d.count, 2 + 2 * 12 + 2)
        XCTAssertNil(d["lm_head.weight"], "tied to tokens.weight")
        let embedding = try XCTUnwrap(m.network.layers.first as? Embedding)
        XCTAssertEqual(d["tokens.weight"]?.shape, [11, 8])
        XCTAssertEqual(d["tokens.weight"]?.values, embedding.tokens.value.array)
        XCTAssertEqual(d["positions"]?.values, embedding.positions.value.array)
        XCTAssertEqual(d["blocks.1.attn.proj.weight"]?.values, try layer(m, "block1.attn", as: MultiHeadSelfAttention.self).outputWeight.value.array)
        XCTAssertEqual(d["final_ln.bias"]?.values, try layer(m, "final_ln", as: LayerNorm.self).shift.value.array)
    }

    func testACompressedLayerHasNoModule() throws {
        let base = try Model(spec: .mlp(MLPSpec(widths: [7])), inputShape: [4], classes: 3, context: ExecutionContext(), seed: 3)
        let integer = try NetworkSurgery.remodel(base, network: NetworkSurgery.rebuild(base.network) {
            try ($0 as? Linear).map { try QuantizedLinear($0, input: .dynamic) }
        })
        XCTAssertThrowsError(try PyTorchStateDict.entries(of: integer)) { error in
            XCTAssertTrue((error as? ReportError)?.message.contains("no module for layer 'fc0'") == true, "\(error)")
        }
    }

    /// NumPy reads the archive back: every name, shape and value.
    func testTheArchiveLoadsWithNumPy() throws {
        guard let python = PythonRunner.find(module: "numpy") else { throw XCTSkip("no python3 with numpy: the .npz is not read back") }
        let entries = [PyTorchStateDict.Entry(name: "layers.1.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]),
                       PyTorchStateDict.Entry(name: "positions", shape: [1], values: [0.25])]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString).npz")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data(try PyTorchStateDict.npzArchive(entries)).write(to: path)
        let output = try python.run("""
        import numpy as np
        with np.load("\(path.path)") as a:
            for name in a.files:
                print(name, a[name].dtype, a[name].shape, a[name].ravel().tolist())
        """)
        XCTAssertEqual(output, "layers.1.weight float32 (2, 3) [1.0, 2.0, 3.0, 4.0, 5.0, -6.5]\npositions float32 (1,) [0.25]\n")
    }

    /// With PyTorch installed: each family's generated `Model` takes its state_dict (every
    /// parameter and buffer, nothing unknown) and gives the engine's logits.
    func testTheGeneratedModelGivesTheEnginesLogits() throws {
        guard let python = PythonRunner.find(module: "torch") else {
            throw XCTSkip("PyTorch is not installed (neither python3 nor the check-export environment imports torch): the weights are not loaded")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pytorch-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Missing after loading: the tied head only (PyTorch fills in the batch norms' counters itself).
        let models: [(ArchitectureSpec, [Int], Int, [String])] = [
            (Self.mlp, [3, 2, 2], 3, []), (Self.cnn, [8, 8, 2], 3, []), (Self.vit, [4, 4, 3], 3, []), (Self.gpt, [6], 11, ["lm_head.weight"]),
        ]
        for (spec, shape, classes, missing) in models {
            let m = try model(spec, shape, classes: classes)
            var rng = RandomSource(seed: 5)
            let x = input(m, batch: 3, &rng)
            let logits = m.forward(x, training: false).array
            let stem = folder.appendingPathComponent(spec.family).path
            try Data(try PyTorchStateDict.npzArchive(PyTorchStateDict.entries(of: m))).write(to: URL(fileURLWithPath: stem + ".npz"))
            try Data(npyFloat32(x.array, shape: x.shape)).write(to: URL(fileURLWithPath: stem + "_x.npy"))
            try (PyTorchExport.header("test", processes: 1) + "\n\n" + PyTorchModelCode.source(spec, inputShape: shape, classes: classes))
                .write(toFile: stem + ".py", atomically: true, encoding: .utf8)
            // Images go in NCHW, token ids as integers.
            let output = try python.run("""
            import importlib.util, numpy as np, torch
            spec = importlib.util.spec_from_file_location("m", "\(stem).py")
            m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
            model = m.Model()
            with np.load("\(stem).npz") as a:
                result = model.load_state_dict({k: torch.from_numpy(a[k]) for k in a.files}, strict=False)
            print(sorted(result.missing_keys), sorted(result.unexpected_keys))
            x = np.load("\(stem)_x.npy")
            x = torch.from_numpy(x).long() if x.ndim == 2 and "\(spec.family)" == "gpt" else torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)
            model.eval()
            with torch.no_grad():
                print(" ".join(repr(v) for v in model(x).flatten().tolist()))
            """)
            let lines = output.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "[" + missing.map { "'\($0)'" }.joined(separator: ", ") + "] []", spec.family)
            let torch = (lines.last ?? "").split(separator: " ").compactMap { Float($0) }
            XCTAssertEqual(torch.count, logits.count, spec.family)
            for (a, b) in zip(torch, logits) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), spec.family) }
        }
    }
}
