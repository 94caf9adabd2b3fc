/// Split an image into non-overlapping p×p patches, project each linearly and add a learned
/// position embedding: the input layer of a Vision Transformer (Dosovitskiy et al. 2021).
///
///     let embed = try PatchEmbedding("patches", imageSize: (32, 32), 3, 4, 192)
///     let tokens = embed(images)           // (batch, 32, 32, 3) NHWC → (batch, 64, 192)
///
/// Patches are gathered into a (batch·tokens, p·p·C) matrix, each row ordered (row in patch, column
/// in patch, channel), and projected by one GEMM with the (dimension, p·p·C) weight — the same maths
/// as a stride-p convolution. As in `Linear`, the GEMM is charged as `.matmul` (2·rows·p·p·C·dim)
/// and the bias add, like the position add, as `.elementwise`.
public final class PatchEmbedding: Layer {
    public let name: String
    public let height: Int
    public let width: Int
    public let channels: Int
    public let patch: Int
    public let dimension: Int
    /// Tokens per image: (H/p)·(W/p).
    public let tokens: Int
    public let weight: Parameter          // (dimension, p·p·C)
    public let bias: Parameter            // (dimension)
    public let positions: Parameter       // (tokens, dimension)
    public var needsInputGradient = true
    private var patches: Tensor?          // (batch·tokens, p·p·C)
    private var out: Tensor?              // (batch, tokens, dimension)
    private var dPatches: Tensor?         // (batch·tokens, p·p·C)
    private var dx: Tensor?               // (batch, H, W, C)

    /// Throws `ShapeError` when `patch` does not divide both image sides.
    public init(_ name: String = "patch_embedding", imageSize: (height: Int, width: Int), _ channels: Int,
                _ patch: Int, _ dimension: Int) throws {
        let (h, w) = imageSize
        guard h > 0, w > 0, channels > 0, patch > 0, dimension > 0 else {
            throw ShapeError(name, "image \(h)×\(w)×\(channels), patch \(patch) and dimension \(dimension) must be positive")
        }
        guard h % patch == 0, w % patch == 0 else {
            throw ShapeError(name, "patch \(patch) does not divide the image size \(h)×\(w)")
        }
        self.name = name
        self.height = h
        self.width = w
        self.channels = channels
        self.patch = patch
        self.dimension = dimension
        tokens = (h / patch) * (w / patch)
        let patchSize = patch * patch * channels
        weight = Parameter(name + ".weight", shape: [dimension, patchSize], decays: true)
        bias = Parameter(name + ".bias", shape: [dimension], decays: false)
        positions = Parameter(name + ".positions", shape: [tokens, dimension], decays: false)
    }

    public var parameters: [Parameter] { [weight, bias, positions] }

    private var patchSize: Int { patch * patch * channels }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input == [height, width, channels] else {
            throw ShapeError(name, "expects NHWC images of \([height, width, channels]), got \(input)")
        }
        return [tokens, dimension]
    }

    /// Weight and bias uniform in ±1/√(p·p·C) as PyTorch's Conv2d; positions normal, std 0.02 (ViT).
    public func initialize(using rng: inout RandomSource) {
        let bound = 1 / Float(patchSize).squareRoot()
        fillUniform(weight.value, bound: bound, &rng)
        fillUniform(bias.value, bound: bound, &rng)
        fillNormal(positions.value, std: 0.02, &rng)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        precondition(Array(x.shape.dropFirst()) == [height, width, channels],
                     "\(name): expects (batch, \(height), \(width), \(channels)), got \(x.shape)")
        let batch = x.shape[0], rows = batch * tokens, k = patchSize, d = dimension
        let p = ctx.buffer(patches, [rows, k]); patches = p
        let o = ctx.buffer(out, [batch, tokens, d]); out = o
        ctx.record(name + ".gather", .copy, flops: 0, read: Double(x.count), written: Double(p.count))
        ctx.record(name, .matmul, flops: 2 * Double(rows) * Double(k) * Double(d),
                   read: Double(p.count + weight.count), written: Double(o.count))
        ctx.record(name + ".bias", .elementwise, flops: Double(o.count), read: Double(o.count + d), written: Double(o.count))
        ctx.record(name + ".positions", .elementwise, flops: Double(o.count),
                   read: Double(o.count + positions.count), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        movePatches(image: x.data, patches: p.data, batch: batch, toPatches: true)
        // out (rows, d) = patches (rows, k) · Wᵀ (k, d)
        sgemm(transB: true, m: rows, n: d, k: k, p.data, lda: k, weight.value.data, ldb: k, o.data, ldc: d)
        addRowVector(bias.value.data, to: o.data, rows: rows, columns: d)
        let pos = positions.value.data, dst = o.data
        for b in 0..<batch {
            let y = dst + b * tokens * d
            for i in 0..<(tokens * d) { y[i] += pos[i] }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let p = patches else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let batch = dy.shape[0], rows = batch * tokens, k = patchSize, d = dimension
        let mnk = Double(rows) * Double(k) * Double(d)
        ctx.record(name + ".dW", .matmul, flops: 2 * mnk, read: Double(dy.count + p.count + weight.count), written: Double(weight.count))
        ctx.record(name + ".bias.grad", .elementwise, flops: Double(dy.count), read: Double(dy.count), written: Double(d))
        ctx.record(name + ".positions.grad", .elementwise, flops: Double(dy.count),
                   read: Double(dy.count), written: Double(positions.count))
        var g: Tensor?
        var gp: Tensor?
        if needsInputGradient {
            gp = ctx.buffer(dPatches, [rows, k]); dPatches = gp
            g = ctx.buffer(dx, [batch, height, width, channels]); dx = g
            ctx.record(name + ".dX", .matmul, flops: 2 * mnk, read: Double(dy.count + weight.count), written: Double(rows * k))
            ctx.record(name + ".scatter", .copy, flops: 0, read: Double(rows * k), written: Double(rows * k))
        }
        guard !ctx.isMeta else { return g }
        // dW (d, k) += dYᵀ (d, rows) · patches (rows, k)
        sgemm(transA: true, m: d, n: k, k: rows, dy.data, lda: d, p.data, ldb: k, beta: 1, weight.grad.data, ldc: k)
        accumulateColumnSums(dy.data, rows: rows, columns: d, into: bias.grad.data)
        accumulateColumnSums(dy.data, rows: batch, columns: tokens * d, into: positions.grad.data)
        guard let g, let gp else { return nil }
        // dPatches (rows, k) = dY (rows, d) · W (d, k)
        sgemm(m: rows, n: k, k: d, dy.data, lda: d, weight.value.data, ldb: k, gp.data, ldc: k)
        movePatches(image: g.data, patches: gp.data, batch: batch, toPatches: false)
        return g
    }

    /// Copy between an NHWC image batch and its patch matrix, in either direction. Patches tile the
    /// image exactly, so the reverse copy writes every image element once.
    private func movePatches(image: UnsafeMutablePointer<Float>, patches: UnsafeMutablePointer<Float>,
                             batch: Int, toPatches: Bool) {
        let p = patch, c = channels, across = width / p, down = height / p
        let segment = p * c                       // one patch row: p pixels × C channels, contiguous
        for b in 0..<batch {
            for py in 0..<down {
                for px in 0..<across {
                    let token = b * tokens + py * across + px
                    for i in 0..<p {
                        let img = image + ((b * height + py * p + i) * width + px * p) * c
                        let row = patches + token * patchSize + i * segment
                        if toPatches { row.update(from: img, count: segment) } else { img.update(from: row, count: segment) }
                    }
                }
            }
        }
    }
}
