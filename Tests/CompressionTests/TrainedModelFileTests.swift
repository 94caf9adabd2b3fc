import CZlib
import Engine
import Foundation
import XCTest
@testable import Compression

/// The kept-weights file: a model reads back with the same numbers; a damaged, cut, foreign or
/// ill-fitting file is refused with its reason; a model the format cannot rebuild is not kept.
final class TrainedModelFileTests: XCTestCase {
    /// A CNN with batch norm whose running statistics have moved off their start (a few training
    /// forwards on random images).
    private func cnn() throws -> Model {
        let spec = CNNSpec(stages: [CNNStage(channels: 4, kernel: 3, batchnorm: true, pool: .max)], head: [6], activation: .relu)
        let m = try Model(spec: .cnn(spec), inputShape: [6, 6, 2], classes: 3, context: ExecutionContext(), seed: 5)
        var rng = RandomSource(seed: 9)
        for _ in 0..<3 { _ = m.forward(randomInput(m, batch: 4, &rng), training: true) }
        return m
    }

    private func randomInput(_ m: Model, batch: Int, _ rng: inout RandomSource) -> Tensor {
        let x = Tensor(shape: [batch] + m.inputShape, context: m.context)
        for i in 0..<x.count { x.data[i] = 2 * rng.nextFloat() - 1 }
        return x
    }

    /// Every number a model holds: parameters by name, then running statistics.
    private func numbers(_ m: Model) -> [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for p in m.store.parameters { out[p.name] = p.value.array.map(\.bitPattern) }
        for s in ModelState.runningStatistics(m) {
            out[s.layer.name + ".mean"] = s.mean.array.map(\.bitPattern)
            out[s.layer.name + ".variance"] = s.variance.array.map(\.bitPattern)
        }
        return out
    }

    private func reason(_ bytes: [UInt8]) -> String {
        do { _ = try TrainedModelFile.decode(bytes); return "read" } catch { return "\(error)" }
    }

    /// `bytes` with its checksum made right again after an edit.
    private func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(bytes.dropLast(4))
        let c = out.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt(out.count))) }
        appendUInt32(c, to: &out)
        return out
    }

    func testRoundTripKeepsEveryNumberAndTheSpec() throws {
        let m = try cnn()
        let bytes = try TrainedModelFile.encode(m, seed: 5, activationRounding: .bf16, owner: "trial 3")
        XCTAssertEqual(Array(bytes.prefix(8)), Array("ATWEIGHT".utf8))
        XCTAssertEqual(Array(bytes[8..<12]), [1, 0, 0, 0], "version 1, little-endian")
        let kept = try TrainedModelFile.decode(bytes)
        XCTAssertEqual(kept.model.spec, m.spec)
        XCTAssertEqual(kept.model.inputShape, [6, 6, 2])
        XCTAssertEqual(kept.model.classes, 3)
        XCTAssertEqual(kept.seed, 5)
        XCTAssertEqual(kept.activationRounding, .bf16)
        XCTAssertEqual(kept.owner, "trial 3")
        XCTAssertEqual(numbers(kept.model), numbers(m))
        XCTAssertNotEqual(numbers(m)["stage0.block0.bn.mean"], Array(repeating: Float(0).bitPattern, count: 4), "the statistics moved")
        // The same model, the same logits.
        var rng = RandomSource(seed: 2)
        let x = randomInput(m, batch: 3, &rng)
        let same = Tensor(shape: x.shape, context: kept.model.context)
        same.data.update(from: x.data, count: x.count)
        let y = kept.model.forward(same, training: false).array
        XCTAssertEqual(y, m.forward(x, training: false).array)
        XCTAssertEqual(try TrainedModelFile.encode(kept.model, seed: 5, activationRounding: .bf16, owner: "trial 3"), bytes,
                       "writing the rebuilt model gives the same file")
    }

    func testDamagedCutAndForeignFilesAreRefused() throws {
        let m = try Model(spec: .mlp(MLPSpec(widths: [4])), inputShape: [3], classes: 2, context: ExecutionContext(), seed: 1)
        let bytes = try TrainedModelFile.encode(m, seed: 1, activationRounding: .fp32, owner: "x")
        var flipped = bytes
        flipped[bytes.count - 10] ^= 0x01
        XCTAssertEqual(reason(flipped), "the checksum does not match (the file is damaged or cut short)")
        XCTAssertEqual(reason(Array(bytes.prefix(bytes.count / 2))), "the checksum does not match (the file is damaged or cut short)")
        XCTAssertEqual(reason(Array(bytes.prefix(10))), "not a kept-weights file (no \"ATWEIGHT\" magic)")
        XCTAssertEqual(reason([]), "not a kept-weights file (no \"ATWEIGHT\" magic)")
        var other = bytes
        other[8] = 2
        XCTAssertEqual(reason(resealed(other)), "format version 2; this autotune reads version 1")
        var header = bytes
        header[13] = 0xFF
        XCTAssertEqual(reason(resealed(header)), "the header runs past the end of the file")
        // A header that describes another model: the tensors do not fit it.
        let from = Array(#""widths":[4]"#.utf8), to = Array(#""widths":[5]"#.utf8)
        let at = try XCTUnwrap((0...(bytes.count - from.count)).first { Array(bytes[$0..<($0 + from.count)]) == from })
        var wider = bytes
        wider.replaceSubrange(at..<(at + from.count), with: to)
        XCTAssertEqual(reason(resealed(wider)), "tensor 'fc0.weight' is 12 f32 values; the model needs 15 f32")
    }

    func testCompressedFormsRebuildTheSameLayers() throws {
        let base = try Model(spec: .mlp(MLPSpec(widths: [6, 5])), inputShape: [4], classes: 3, context: ExecutionContext(), seed: 2)
        let (factored, _) = try factorizeLowRank(base, choice: .rank(2))
        let quantized = try NetworkSurgery.remodel(factored, network: NetworkSurgery.rebuild(factored.network) { layer -> Layer? in
            guard let l = layer as? Linear else { return nil }
            if l.name == "fc0.v" { return try QuantizedLinear(l, input: .calibrated(AffineQuantization(scale: [0.03], zeroPoint: [4], qmin: -128, qmax: 127))) }
            if l.name == "classifier" { return try QuantizedLinear(l, weightBits: 4, input: .dynamic) }
            return nil
        })
        let kept = try TrainedModelFile.decode(try TrainedModelFile.encode(quantized, seed: 2, activationRounding: .fp32, owner: ""))
        let names = { (m: Model) in NetworkSurgery.leaves(m.network).map { "\(type(of: $0)) \($0.name)" } }
        XCTAssertEqual(names(kept.model), names(quantized))
        XCTAssertTrue(names(kept.model).contains("QuantizedLinear fc0.v"), "\(names(kept.model))")
        XCTAssertTrue(names(kept.model).contains("Linear fc1.u"), "\(names(kept.model))")
        let pairs = zip(NetworkSurgery.leaves(kept.model.network), NetworkSurgery.leaves(quantized.network))
        for case let (a as QuantizedLinear, b as QuantizedLinear) in pairs {
            XCTAssertEqual(a.weightCodes, b.weightCodes)
            XCTAssertEqual(a.weightScales, b.weightScales)
            XCTAssertEqual(a.bias, b.bias)
            XCTAssertEqual(a.input, b.input)
            XCTAssertEqual(a.weightBits, b.weightBits)
        }
        XCTAssertEqual(numbers(kept.model), numbers(quantized))
    }

    func testAQuantizerStillObservingIsNotKept() throws {
        let base = try Model(spec: .mlp(MLPSpec(widths: [4])), inputShape: [3], classes: 2, context: ExecutionContext(), seed: 1)
        let observing = try NetworkSurgery.remodel(base, network: NetworkSurgery.rebuild(base.network) {
            $0 is Linear ? ActivationQuantizer($0, mode: .observe, bits: 8, method: .minMax) : nil
        })
        XCTAssertThrowsError(try TrainedModelFile.encode(observing, seed: 1, activationRounding: .fp32, owner: "")) {
            XCTAssertEqual("\($0)", "'fc0' still observes its input's range: its quantization is not fixed yet")
        }
    }
}
