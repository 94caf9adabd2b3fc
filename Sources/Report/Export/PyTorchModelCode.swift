import Engine

/// The `torch.nn` code of an engine architecture, layer for layer as `buildNetwork` builds it: the
/// same order, widths, kernels, strides, padding, activation, normalisation, dropout, pooling,
/// residual and depthwise-separable blocks, patch embedding, attention blocks and tied embedding.
///
/// Images are NCHW in PyTorch where the engine holds them NHWC, so a flattened feature map lists
/// the same values in another order; widths and parameter counts are the same. Initialisation
/// follows the engine's (PyTorch's defaults for linear and convolution layers; normal(0.02) for
/// embeddings and position tables; Xavier-uniform QKV and zero attention biases).
///
///     let code = try PyTorchModelCode.source(.mlp(MLPSpec(widths: [64])), inputShape: [28, 28, 1], classes: 10)
///     // "class Model(nn.Module): ... nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)"
enum PyTorchModelCode {
    /// The modules the model is built from (residual, attention, block classes) and `class Model`, as Python source.
    /// - Parameters:
    ///   - inputShape: one sample as the engine sees it: `[H, W, C]`, `[D]` or `[T]` token ids.
    ///   - classes: outputs of the last layer (the vocabulary for a GPT).
    /// - Throws: `ReportError` when a CNN's feature map shrinks to nothing.
    static func source(_ spec: ArchitectureSpec, inputShape: [Int], classes: Int) throws -> String {
        switch spec {
        case .mlp(let s):
            return sequentialModel(describe(s), mlpLayers(s, inputs: inputShape.reduce(1, *), classes: classes), input: inputShape)
        case .cnn(let s):
            let (layers, usesResidual) = try cnnLayers(s, inputShape: inputShape, classes: classes)
            return (usesResidual ? residualClass + "\n\n" : "") + sequentialModel(describe(s), layers, input: inputShape)
        case .vit(let s):
            return [patchEmbeddingClass, attentionClass, blockClass, vitModel(s, inputShape: inputShape, classes: classes)].joined(separator: "\n\n")
        case .gpt(let s):
            return [attentionClass, blockClass, gptModel(s)].joined(separator: "\n\n")
        }
    }

    // MARK: MLP and CNN: one nn.Sequential

    static func mlpLayers(_ s: MLPSpec, inputs: Int, classes: Int) -> [String] {
        var layers = ["nn.Flatten()"], width = inputs
        for w in s.widths {
            layers.append("nn.Linear(\(width), \(w))")
            switch s.norm {
            case .none: break
            case .batch: layers.append("nn.BatchNorm1d(\(w))")
            case .layer: layers.append("nn.LayerNorm(\(w))")
            }
            layers.append(activation(s.activation))
            if s.dropout > 0 { layers.append("nn.Dropout(\(pythonNumber(s.dropout)))") }
            width = w
        }
        layers.append("nn.Linear(\(width), \(classes))")
        return layers
    }

    /// The CNN's layers and whether it has residual blocks. The spatial size is followed through
    /// every convolution and pooling so the head's first width is written out.
    static func cnnLayers(_ s: CNNSpec, inputShape: [Int], classes: Int) throws -> ([String], Bool) {
        var (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
        var layers: [String] = [], usesResidual = false
        func block(_ cin: Int, _ cout: Int, _ stage: CNNStage, stride: Int, activate: Bool) -> [String] {
            let k = stage.kernel, pad = k / 2, bias = stage.batchnorm ? "False" : "True"
            var out: [String]
            if stage.depthwise {
                out = ["nn.Conv2d(\(cin), \(cin), \(k), stride=\(stride), padding=\(pad), groups=\(cin), bias=\(bias))",
                       "nn.Conv2d(\(cin), \(cout), 1, bias=\(bias))"]
            } else {
                out = ["nn.Conv2d(\(cin), \(cout), \(k), stride=\(stride), padding=\(pad), bias=\(bias))"]
            }
            if stage.batchnorm { out.append("nn.BatchNorm2d(\(cout))") }
            if activate { out.append(activation(s.activation)) }
            return out
        }
        for stage in s.stages {
            for b in 0..<stage.blocks {
                let stride = b == 0 ? stage.stride : 1
                if b > 0 && stage.residual {
                    let body = block(channels, stage.channels, stage, stride: 1, activate: true)
                        + block(stage.channels, stage.channels, stage, stride: 1, activate: false)
                    layers.append("Residual(\n" + body.map { "    " + $0 + "," }.joined(separator: "\n") + "\n)")
                    layers.append(activation(s.activation))
                    usesResidual = true
                } else {
                    layers += block(channels, stage.channels, stage, stride: stride, activate: true)
                    let pad = stage.kernel / 2
                    height = (height + 2 * pad - stage.kernel) / stride + 1
                    width = (width + 2 * pad - stage.kernel) / stride + 1
                }
                channels = stage.channels
            }
            switch stage.pool {
            case .none: break
            case .max: layers.append("nn.MaxPool2d(2)")
            case .avg: layers.append("nn.AvgPool2d(2)")
            }
            if stage.pool != .none { (height, width) = ((height - 2) / 2 + 1, (width - 2) / 2 + 1) }
            guard height > 0, width > 0 else {
                throw ReportError("the cnn's feature map shrinks to nothing at a stage of \(stage.channels) channels")
            }
        }
        if s.globalPool {
            layers.append("nn.AdaptiveAvgPool2d(1)")
            (height, width) = (1, 1)
        }
        layers.append("nn.Flatten()")
        var features = height * width * channels
        for w in s.head {
            layers.append("nn.Linear(\(features), \(w))")
            layers.append(activation(s.activation))
            if s.dropout > 0 { layers.append("nn.Dropout(\(pythonNumber(s.dropout)))") }
            features = w
        }
        layers.append("nn.Linear(\(features), \(classes))")
        return (layers, usesResidual)
    }

    static func sequentialModel(_ summary: String, _ layers: [String], input: [Int]) -> String {
        let body = layers.map { layer in
            layer.split(separator: "\n", omittingEmptySubsequences: false).map { "            " + $0 }.joined(separator: "\n") + ","
        }
        return (["class Model(nn.Module):",
                 "    \"\"\"\(summary)\"\"\"",
                 "",
                 "    def __init__(self):",
                 "        super().__init__()",
                 "        self.layers = nn.Sequential("]
            + body
            + ["        )",
               "",
               "    def forward(self, x):  # x: \(inputComment(input))",
               "        return self.layers(x)"]).joined(separator: "\n")
    }

    // MARK: Transformers

    static func vitModel(_ s: ViTSpec, inputShape: [Int], classes: Int) -> String {
        let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
        let tokens = (h / s.patch) * (w / s.patch)
        return """
        class Model(nn.Module):
            \"\"\"\(describe(s, image: inputShape))\"\"\"

            def __init__(self):
                super().__init__()
                self.patch_embed = PatchEmbedding(channels=\(c), patch=\(s.patch), dim=\(s.dim), tokens=\(tokens))
                self.blocks = nn.Sequential(*[Block(\(s.dim), \(s.heads), mlp_ratio=\(s.mlpRatio), causal=False, dropout=\(pythonNumber(s.dropout))) for _ in range(\(s.depth))])
                self.final_ln = nn.LayerNorm(\(s.dim))
                self.classifier = nn.Linear(\(s.dim), \(classes))

            def forward(self, x):  # x: (batch, \(c), \(h), \(w))
                tokens = self.final_ln(self.blocks(self.patch_embed(x)))  # (batch, \(tokens), \(s.dim))
                return self.classifier(tokens.mean(dim=1))
        """
    }

    static func gptModel(_ s: GPTSpec) -> String {
        """
        class Model(nn.Module):
            \"\"\"\(describe(s))\"\"\"

            def __init__(self):
                super().__init__()
                self.tokens = nn.Embedding(\(s.vocabulary), \(s.hidden))
                self.positions = nn.Parameter(torch.empty(\(s.sequenceLength), \(s.hidden)))
                nn.init.normal_(self.tokens.weight, std=0.02)
                nn.init.normal_(self.positions, std=0.02)
                self.blocks = nn.Sequential(*[Block(\(s.hidden), \(s.heads), mlp_ratio=\(s.mlpRatio), causal=True, dropout=\(pythonNumber(s.dropout))) for _ in range(\(s.layers))])
                self.final_ln = nn.LayerNorm(\(s.hidden))
                self.lm_head = nn.Linear(\(s.hidden), \(s.vocabulary), bias=False)
                self.lm_head.weight = self.tokens.weight  # tied to the token embedding

            def forward(self, ids):  # ids: (batch, T) token ids, T ≤ \(s.sequenceLength)
                h = self.tokens(ids) + self.positions[: ids.size(1)]
                return self.lm_head(self.final_ln(self.blocks(h)))  # (batch, T, \(s.vocabulary))
        """
    }

    static let residualClass = """
    class Residual(nn.Module):
        \"\"\"x + body(x): the second and later blocks of a residual stage.\"\"\"

        def __init__(self, *layers):
            super().__init__()
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.body(x)
    """

    static let patchEmbeddingClass = """
    class PatchEmbedding(nn.Module):
        \"\"\"Non-overlapping patches projected linearly (a stride-`patch` convolution), plus a learned
        position per patch.\"\"\"

        def __init__(self, channels, patch, dim, tokens):
            super().__init__()
            self.proj = nn.Conv2d(channels, dim, patch, stride=patch)
            self.positions = nn.Parameter(torch.empty(tokens, dim))
            nn.init.normal_(self.positions, std=0.02)

        def forward(self, x):  # (batch, C, H, W) -> (batch, tokens, dim), patches in row order
            return self.proj(x).flatten(2).transpose(1, 2) + self.positions
    """

    static let attentionClass = """
    class SelfAttention(nn.Module):
        \"\"\"Multi-head scaled dot-product self-attention with one QKV projection, optionally causal.\"\"\"

        def __init__(self, dim, heads, causal):
            super().__init__()
            self.heads, self.causal = heads, causal
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            nn.init.xavier_uniform_(self.qkv.weight)
            nn.init.zeros_(self.qkv.bias)
            nn.init.zeros_(self.proj.bias)

        def forward(self, x):  # (batch, T, dim)
            b, t, d = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)  # (batch, heads, T, d / heads)
            return self.proj(y.transpose(1, 2).reshape(b, t, d))
    """

    static let blockClass = """
    class Block(nn.Module):
        \"\"\"Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)) with
        MLP = Linear(dim, ratio·dim) -> GELU -> Linear(ratio·dim, dim); dropout on both residual branches.\"\"\"

        def __init__(self, dim, heads, mlp_ratio, causal, dropout):
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.attn = SelfAttention(dim, heads, causal)
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            x = x + self.dropout(self.attn(self.ln1(x)))
            return x + self.dropout(self.mlp(self.ln2(x)))
    """

    // MARK: Small pieces

    static func activation(_ kind: ActivationKind) -> String {
        switch kind {
        case .relu: return "nn.ReLU()"
        case .gelu: return "nn.GELU()"
        case .silu: return "nn.SiLU()"
        case .tanh: return "nn.Tanh()"
        case .sigmoid: return "nn.Sigmoid()"
        }
    }

    static func inputComment(_ shape: [Int]) -> String {
        shape.count == 3 ? "(batch, \(shape[2]), \(shape[0]), \(shape[1]))" : "(batch, " + shape.map(String.init).joined(separator: ", ") + ")"
    }

    static func describe(_ s: MLPSpec) -> String {
        "MLP: hidden widths \(s.widths), \(s.activation.rawValue)" + (s.norm == .none ? "" : ", \(s.norm.rawValue) norm")
            + (s.dropout > 0 ? ", dropout \(pythonNumber(s.dropout))" : "") + "."
    }

    static func describe(_ s: CNNSpec) -> String {
        let stages = s.stages.map { "\($0.blocks)×\($0.channels)" }.joined(separator: ", ")
        return "CNN: stages of \(stages) channels, head \(s.head), \(s.activation.rawValue)" + (s.globalPool ? ", global average pooling" : "") + "."
    }

    static func describe(_ s: ViTSpec, image: [Int]) -> String {
        "ViT: \(s.patch)×\(s.patch) patches of \(image[0])×\(image[1])×\(image[2]) images, dimension \(s.dim), \(s.depth) blocks of \(s.heads) heads, MLP ratio \(s.mlpRatio)."
    }

    static func describe(_ s: GPTSpec) -> String {
        "GPT: \(s.layers) causal blocks, hidden \(s.hidden), \(s.heads) heads, \(s.sequenceLength) positions, vocabulary \(s.vocabulary), tied head."
    }
}

/// A number as Python source: `0.1`, `3e-05` (the decimal it was written as, not its binary
/// expansion).
func pythonNumber(_ x: Float) -> String { pythonNumber(decimal(x)) }

func pythonNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
    return "\(x)"
}
