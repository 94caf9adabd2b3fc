/// Turn a validated spec into layers. Layer names follow the spec's structure
/// (`stage1.block0.conv`, `block3.attn`) so traces and parameters read back to the spec.
func buildNetwork(_ spec: ArchitectureSpec, inputShape: [Int], classes: Int, seed: UInt64) throws -> Sequential {
    var stream: UInt64 = 0
    func nextSeed() -> UInt64 { stream += 1; return seed &* 0x9E37_79B9 &+ stream }

    switch spec {
    case .mlp(let s):
        var layers: [Layer] = [Flatten("flatten")]
        var width = shapeCount(inputShape)
        for (i, w) in s.widths.enumerated() {
            layers.append(Linear("fc\(i)", width, w))
            switch s.norm {
            case .none: break
            case .batch: layers.append(BatchNorm("fc\(i).bn", channels: w))
            case .layer: layers.append(LayerNorm("fc\(i).ln", w))
            }
            layers.append(Activation(s.activation, name: "fc\(i).\(s.activation.rawValue)"))
            if s.dropout > 0 { layers.append(Dropout("fc\(i).dropout", rate: s.dropout, seed: nextSeed())) }
            width = w
        }
        layers.append(Linear("classifier", width, classes))
        return Sequential("mlp", layers)

    case .cnn(let s):
        var layers: [Layer] = []
        var channels = inputShape[2]
        func convBlock(_ name: String, _ cin: Int, _ cout: Int, _ stage: CNNStage, stride: Int, activation: Bool) -> [Layer] {
            var block: [Layer] = []
            let pad = stage.kernel / 2
            if stage.depthwise {
                block.append(DepthwiseSeparableConv2d(name + ".dsconv", inChannels: cin, outChannels: cout, kernel: stage.kernel,
                                                      stride: stride, padding: pad, bias: !stage.batchnorm))
            } else {
                block.append(Conv2d(name + ".conv", cin, cout, kernel: stage.kernel, stride: stride, padding: pad, bias: !stage.batchnorm))
            }
            if stage.batchnorm { block.append(BatchNorm(name + ".bn", channels: cout)) }
            if activation { block.append(Activation(s.activation, name: name + "." + s.activation.rawValue)) }
            return block
        }
        for (i, stage) in s.stages.enumerated() {
            for b in 0..<stage.blocks {
                let name = "stage\(i).block\(b)"
                if b > 0 && stage.residual {
                    let body = convBlock(name + ".a", channels, stage.channels, stage, stride: 1, activation: true)
                        + convBlock(name + ".b", stage.channels, stage.channels, stage, stride: 1, activation: false)
                    layers.append(Residual(name, body))
                    layers.append(Activation(s.activation, name: name + "." + s.activation.rawValue))
                } else {
                    layers += convBlock(name, channels, stage.channels, stage, stride: b == 0 ? stage.stride : 1, activation: true)
                }
                channels = stage.channels
            }
            switch stage.pool {
            case .none: break
            case .max: layers.append(MaxPool2d("stage\(i).maxpool", kernel: 2, stride: 2))
            case .avg: layers.append(AvgPool2d("stage\(i).avgpool", kernel: 2, stride: 2))
            }
        }
        if s.globalPool { layers.append(GlobalAvgPool("global_pool")) }
        layers.append(Flatten("flatten"))
        var width = try Sequential("probe", layers).outputShape(for: inputShape).reduce(1, *)
        for (i, w) in s.head.enumerated() {
            layers.append(Linear("head\(i)", width, w))
            layers.append(Activation(s.activation, name: "head\(i).\(s.activation.rawValue)"))
            if s.dropout > 0 { layers.append(Dropout("head\(i).dropout", rate: s.dropout, seed: nextSeed())) }
            width = w
        }
        layers.append(Linear("classifier", width, classes))
        return Sequential("cnn", layers)

    case .vit(let s):
        var layers: [Layer] = [try PatchEmbedding("patch_embed", imageSize: (inputShape[0], inputShape[1]), inputShape[2],
                                                  s.patch, s.dim)]
        for i in 0..<s.depth {
            layers.append(try TransformerBlock("block\(i)", s.dim, s.heads, mlpRatio: s.mlpRatio, causal: false,
                                               dropout: s.dropout, seed: nextSeed()))
        }
        layers.append(LayerNorm("final_ln", s.dim))
        layers.append(TokenPooling("token_pool"))
        layers.append(Linear("classifier", s.dim, classes))
        return Sequential("vit", layers)

    case .gpt(let s):
        guard s.isGPT2Shape else {
            throw ShapeError("gpt", "the engine builds GPT-2 blocks; \(s.nonGPT2Keys.joined(separator: ", ")) "
                             + "are costed by autotune estimate and the meta evaluator, not trained")
        }
        let embedding = Embedding("embed", s.vocabulary, s.hidden, s.sequenceLength)
        var layers: [Layer] = [embedding]
        for i in 0..<s.layers {
            layers.append(try TransformerBlock("block\(i)", s.hidden, s.heads, mlpRatio: s.mlpRatio, causal: true,
                                               dropout: s.dropout, seed: nextSeed()))
        }
        layers.append(LayerNorm("final_ln", s.hidden))
        layers.append(Linear("lm_head", tiedTo: embedding.tokens))
        return Sequential("gpt", layers)
    }
}
