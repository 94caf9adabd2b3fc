import Foundation
import XCTest
import Engine
import Hardware
@testable import Parallel

/// Shapes beyond GPT-2: parameters, FLOPs and activations worked out by hand.
final class ModelShapeTests: XCTestCase {
    /// Llama 3 (Table 3 of the Llama 3 paper) and Mixtral 8×7B, counted component by component:
    /// attention h·(h + 2·kv) + h², SwiGLU 3·h·f, two RMSNorms 2h per layer; V·h embedding and
    /// V·h output layer; one final norm h.
    func testBuiltInShapesHaveTheirPublishedParameterCounts() throws {
        func layer(h: Int, kv: Int, f: Int) -> Int { h * (h + 2 * kv) + h * h + 3 * h * f + 2 * h }
        let cases: [(String, Int, Double)] = [
            ("llama3-8b", 32 * layer(h: 4096, kv: 1024, f: 14336) + 2 * 128_256 * 4096 + 4096, 8.03e9),
            ("llama3-70b", 80 * layer(h: 8192, kv: 1024, f: 28672) + 2 * 128_256 * 8192 + 8192, 70.6e9),
            ("llama3-405b", 126 * layer(h: 16384, kv: 1024, f: 53248) + 2 * 128_256 * 16384 + 16384, 405.9e9),
        ]
        for (name, byHand, published) in cases {
            let p = ModelParameters(try XCTUnwrap(ModelShapes.named(name)))
            XCTAssertEqual(p.total, byHand, name)
            XCTAssertEqual(Double(p.total), published, accuracy: published * 0.001, name)
            XCTAssertEqual(p.active, p.total, name)
        }
        XCTAssertEqual(cases[0].1, 8_030_261_248)
        XCTAssertEqual(cases[2].1, 405_853_388_800)

        // Mixtral: 8 experts of 3·4096·14336 = 176,160,768 and a 4096 × 8 router per layer.
        let mixtral = ModelParameters(try XCTUnwrap(ModelShapes.named("mixtral-8x7b")))
        let attention = 4096 * (4096 + 2 * 1024) + 4096 * 4096, expert = 3 * 4096 * 14336, ends = 2 * 32000 * 4096 + 4096
        XCTAssertEqual(mixtral.total, 32 * (attention + 8 * expert + 4096 * 8 + 2 * 4096) + ends)
        XCTAssertEqual(mixtral.active, 32 * (attention + 2 * expert + 4096 * 8 + 2 * 4096) + ends)
        XCTAssertEqual(Double(mixtral.total), 46.7e9, accuracy: 0.05e9)
        XCTAssertEqual(Double(mixtral.active), 12.9e9, accuracy: 0.05e9)

        // GPT-3 175B: 12·l·h² + 13·l·h + (V + s)·h + 2h.
        let gpt3 = ModelParameters(try XCTUnwrap(ModelShapes.named("gpt3-175b")))
        XCTAssertEqual(gpt3.total, 12 * 96 * 12288 * 12288 + 13 * 96 * 12288 + (50257 + 2048) * 12288 + 2 * 12288)
        XCTAssertNil(ModelShapes.named("llama3-7b"))
    }

    /// The component formula equals what the engine builds for a GPT-2 shape, module by module.
    func testParameterFormulaAgreesWithTheEngineOnGPT2() throws {
        let gpt = GPTSpec(layers: 1, hidden: 48, heads: 4, sequenceLength: 12, vocabulary: 70, mlpRatio: 3)
        let net = try Model(spec: .gpt(gpt), inputShape: [12], classes: 70, context: ExecutionContext(mode: .meta), seed: 0)
        var modules: [String: Int] = [:]
        for p in net.store.parameters {
            let module = p.name.hasPrefix("embed.") ? p.name : String(p.name[..<p.name.lastIndex(of: ".")!])
            modules[module, default: 0] += p.count
        }
        let formula = ModelParameters(gpt)
        XCTAssertEqual(formula.total, net.parameterCount)
        XCTAssertEqual(formula.modules.mapValues(\.whole), modules)
    }

    /// A small grouped-query SwiGLU layer (h 64, 4 heads of 16, 2 kv heads: kv 32, f 96, s 16, b 2):
    /// forward matmuls 2·T·(h·(h + 2kv) + h² + h·2f + f·h) for the projections and 2·2·T·s·h for
    /// scores and context (T = b·s tokens), the backward twice that.
    func testGroupedQuerySwiGLUMatmulFLOPsByHand() throws {
        var s = GPTSpec(layers: 3, hidden: 64, heads: 4, sequenceLength: 16, vocabulary: 50)
        s.kvHeads = 2; s.ffnHidden = 96; s.mlp = .swiglu; s.norm = .rmsNorm; s.positions = .rotary; s.tiedEmbeddings = false; s.bias = false
        let trace = try TransformerTrace(model: s, microBatch: 2, precision: .bf16)
        let t = 2.0 * 16, h = 64.0
        let projections = 2 * t * (h * (h + 64) + h * h + h * 192 + 96 * h)
        let core = 2 * 2 * t * 16 * h
        func matmuls(_ phase: Phase) -> Double { trace.block.filter { $0.kind == .matmul && $0.phase == phase }.reduce(0) { $0 + $1.flops } }
        XCTAssertEqual(matmuls(.forward), projections + core)
        XCTAssertEqual(matmuls(.backward), 2 * (projections + core))
        XCTAssertFalse(trace.block.contains { $0.name.contains(".bias") })
        // Rotary: 3 FLOPs per element of Q and K (h + kv columns), forward and backward.
        XCTAssertEqual(trace.block.filter { $0.name.hasPrefix("block0.attn.rotary") }.reduce(0) { $0 + $1.flops }, 2 * 3 * t * (h + 32))
        // Parameters: no position table, an output layer of its own.
        XCTAssertEqual(trace.positionParameters, 0)
        XCTAssertEqual(trace.outputParameters, 50 * 64)
        XCTAssertEqual(trace.totalParameters, 3 * (64 * 128 + 64 * 64 + 3 * 64 * 96 + 2 * 64) + 2 * 50 * 64 + 64)
    }

    /// One Llama 3 8B layer, tensor parallel 8 with sequence parallelism, no FlashAttention, s 8192,
    /// b 1: (10·sbh + sb·(4h + 4kv + 6f) + 5·a·s²·b)/t bytes.
    func testActivationMemoryOfOneLayerByHand() throws {
        let llama = try XCTUnwrap(ModelShapes.named("llama3-8b"))
        let sb = 8192.0, h = 4096.0, kv = 1024.0, f = 14336.0
        let byHand = (10 * sb * h + sb * (4 * h + 4 * kv + 6 * f) + 5 * 32 * sb * 8192) / 8
        XCTAssertEqual(transformerLayerActivationBytes(llama, microBatch: 1, tensorParallel: 8, sequenceParallel: true), byHand)
        // 335,544,320 + 872,415,232 + 10,737,418,240 = 11,945,377,792 over 8: 1.39 GiB for the layer.
        XCTAssertEqual(byHand, 1_493_172_224)
        // Context parallel over 4: a quarter.
        XCTAssertEqual(transformerLayerActivationBytes(llama, microBatch: 1, tensorParallel: 8, contextParallel: 4, sequenceParallel: true),
                       byHand / 4)
        // The GPT-2 shape is Korthikanti's sbh(10 + 24/t + 5as/(ht)).
        let gpt = GPTSpec(layers: 1, hidden: 1024, heads: 16, sequenceLength: 2048, vocabulary: 10)
        let g = 2048.0 * 1024
        XCTAssertEqual(transformerLayerActivationBytes(gpt, microBatch: 1, tensorParallel: 4), g * (10 + 24 / 4 + 5 * 16 * 2048 / (1024 * 4)))
    }

    /// The engine trains the GPT-2 shape only: other shapes are refused by name.
    func testEngineRefusesToBuildOtherShapes() {
        var s = GPTSpec(layers: 1, hidden: 32, heads: 4, sequenceLength: 8, vocabulary: 20)
        s.kvHeads = 2; s.mlp = .swiglu
        XCTAssertThrowsError(try Model(spec: .gpt(s), inputShape: [8], classes: 20, context: ExecutionContext(mode: .meta), seed: 0)) { e in
            XCTAssertTrue("\(e)".contains("kv_heads, mlp"), "\(e)")
        }
    }

    /// GPT-2 architectures encode as before; a Llama shape reads back as written; bad shape keys name the key.
    func testShapeKeysRoundTripAndAreChecked() throws {
        let plain = try JSONEncoder().encode(ArchitectureSpec.gpt(GPTSpec(layers: 2, hidden: 8, heads: 2, sequenceLength: 4, vocabulary: 9)))
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: plain) as? [String: Any]).keys.sorted()
        XCTAssertEqual(keys, ["dropout", "family", "heads", "hidden", "layers", "mlp_ratio", "sequence_length", "vocabulary"])
        let mixtral = try XCTUnwrap(ModelShapes.named("mixtral-8x7b"))
        let back = try JSONDecoder().decode(ArchitectureSpec.self, from: JSONEncoder().encode(ArchitectureSpec.gpt(mixtral)))
        XCTAssertEqual(back, .gpt(mixtral))
        let bad = #"{"family": "gpt", "layers": 2, "hidden": 64, "heads": 8, "sequence_length": 8, "vocabulary": 9, "kv_heads": 3}"#
        let spec = try JSONValue(parsing: Data(bad.utf8)).decoded(as: ArchitectureSpec.self)
        XCTAssertThrowsError(try spec.validate(inputShape: [8], classes: 9)) { e in
            XCTAssertEqual((e as? ConfigError)?.keyPath, "architecture.kv_heads")
        }
        let mlp = #"{"family": "gpt", "layers": 2, "hidden": 64, "heads": 8, "sequence_length": 8, "vocabulary": 9, "mlp": "geglu"}"#
        XCTAssertThrowsError(try JSONValue(parsing: Data(mlp.utf8)).decoded(as: ArchitectureSpec.self)) { e in
            XCTAssertTrue("\(e)".contains("mlp"), "\(e)")
        }
    }
}
