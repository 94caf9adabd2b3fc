import Compression
import Engine

/// The training half of the exported script: the trial's settings, its optimizer with the
/// engine's semantics, its learning-rate schedule as the engine computes it per step, and the loop
/// that runs in one process, under DDP (torchrun) or under DeepSpeed.
///
/// The engine's conventions, and how the script keeps them:
/// - a step's loss is the mean over the whole batch of `BATCH` samples (every label of a token
///   sequence), whichever process holds which share: each process sums its share's losses and
///   divides by the batch's label count times the processes (DDP and DeepSpeed average over them);
/// - accumulation: micro-batch losses divided by `ACCUMULATION`; the optimizer steps every
///   `ACCUMULATION` micro-batches and after the last batch of an epoch;
/// - weight decay only on weights of linear, convolution and embedding layers (not on biases,
///   norms and position tables): two parameter groups;
/// - AdamW decoupled (`torch.optim.AdamW`), SGD coupled L2 with dampening 0 (`torch.optim.SGD`),
///   LAMB as the engine's (You et al. 2019, trust ratio clipped above, no torch built-in);
/// - the schedule's warmup starts at base/W on the first step (`LambdaLR` with the engine's formula).
struct PyTorchTrainingCode {
    var recipe: Recipe
    var setup: TrainingSetup
    /// Training samples of the exported split (the run's length is counted from it).
    var trainSamples: Int
    var labelsPerSample: Int

    var training: TrainingConfig { recipe.candidate.training }
    /// The engine's batch: at most the training set.
    var batch: Int { min(training.batchSize, trainSamples) }
    var stepsPerEpoch: Int {
        let batches = (trainSamples + batch - 1) / batch
        return (batches + training.accumulation - 1) / training.accumulation
    }
    var totalSteps: Int { training.steps ?? training.epochs * stepsPerEpoch }
    var epochs: Int { (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch }

    /// The constants block at the top of the script.
    var settingsSource: String {
        let p = recipe.precision
        var lines = [
            "# The trial's training settings.",
            "SEED = \(training.seed)",
            "EPOCHS = \(epochs)  # passes over the training set; the run ends after TOTAL_STEPS optimizer steps",
            "TOTAL_STEPS = \(totalSteps)",
            "BATCH = \(batch)  # samples per micro-step, over all processes",
            "PROCESSES = \(setup.dp)  # processes ds_config.json and accelerate.yaml split the batch for",
            "ACCUMULATION = \(training.accumulation)  # micro-steps per optimizer step",
            "GRAD_CLIP = \(training.gradientClip.map { pythonNumber($0) } ?? "None")  # largest global L2 norm of the gradients",
            "PRECISION = \"\(p.format.rawValue)\"  # the forward and backward passes: fp32, bf16 or fp16 (torch.autocast)",
            "LEARNING_RATE = \(pythonNumber(training.optimizer.learningRate))  # the base rate; learning_rate_factor scales it per step",
            "WEIGHT_DECAY = \(pythonNumber(training.optimizer.weightDecay))",
        ]
        if p.format == .fp16 {
            lines.append("LOSS_SCALE = \(pythonNumber(Double(1 << min(p.initialScalePower, 62))))  # GradScaler's initial scale, doubled after LOSS_SCALE_WINDOW clean steps")
            lines.append("LOSS_SCALE_WINDOW = \(p.lossScaleWindow)")
        }
        lines.append("LABELS_PER_SAMPLE = \(labelsPerSample)")
        return lines.joined(separator: "\n")
    }

    /// `parameter_groups` and `make_optimizer` (and the LAMB class when the trial uses it).
    var optimizerSource: String {
        let o = training.optimizer
        let betas = "(\(pythonNumber(o.beta1)), \(pythonNumber(o.beta2)))"
        let make: String
        switch o.name {
        case .adamw:
            make = "    \"\"\"AdamW with decoupled weight decay, as torch.optim.AdamW documents it.\"\"\"\n"
                + "    return torch.optim.AdamW(groups, lr=LEARNING_RATE, betas=\(betas), eps=\(pythonNumber(o.epsilon)))"
        case .adam:
            make = "    \"\"\"Adam (Kingma & Ba 2015), without weight decay.\"\"\"\n"
                + "    return torch.optim.Adam(groups, lr=LEARNING_RATE, betas=\(betas), eps=\(pythonNumber(o.epsilon)))"
        case .sgd:
            make = "    \"\"\"SGD with coupled L2 weight decay and dampening 0, as torch.optim.SGD documents it.\"\"\"\n"
                + "    return torch.optim.SGD(groups, lr=LEARNING_RATE, momentum=\(pythonNumber(o.momentum)), nesterov=\(o.nesterov ? "True" : "False"))"
        case .lamb:
            make = "    return Lamb(groups, lr=LEARNING_RATE, betas=\(betas), eps=\(pythonNumber(o.epsilon)), max_trust_ratio=\(pythonNumber(o.maxTrustRatio)))"
        }
        let groups = """
        def takes_weight_decay(name, parameter):
            \"\"\"Weights of linear, convolution and embedding layers decay; biases, norm scales and shifts
            and position tables do not.\"\"\"
            return parameter.ndim > 1 and not name.endswith("positions")


        def parameter_groups(model):
            named = list(model.named_parameters())
            return [
                {"params": [p for n, p in named if takes_weight_decay(n, p)], "weight_decay": WEIGHT_DECAY},
                {"params": [p for n, p in named if not takes_weight_decay(n, p)], "weight_decay": 0.0},
            ]


        def make_optimizer(groups):
        """
        return (o.name == .lamb ? Self.lambClass + "\n\n\n" : "") + groups + "\n" + make
    }

    static let lambClass = """
    class Lamb(torch.optim.Optimizer):
        \"\"\"LAMB (You et al. 2019): per tensor, r = m̂ / (√v̂ + eps) + weight_decay·θ, then
        θ ← θ − lr · clip(‖θ‖ / ‖r‖, max=max_trust_ratio) · r, with a ratio of 1 when either norm is 0.\"\"\"

        def __init__(self, params, lr, betas, eps, max_trust_ratio, weight_decay=0.0):
            defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, max_trust_ratio=max_trust_ratio)
            super().__init__(params, defaults)

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                    state["step"] += 1
                    t, m, v = state["step"], state["m"], state["v"]
                    m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                    r = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + group["eps"]) + group["weight_decay"] * p
                    w, u = p.norm(), r.norm()
                    ratio = torch.where((w > 0) & (u > 0), (w / u).clamp(max=group["max_trust_ratio"]), torch.ones_like(w))
                    p.sub_(group["lr"] * ratio * r)
    """

    /// `learning_rate_factor(step)`: the engine's `LearningRateSchedule.rate` over the base rate.
    var scheduleSource: String {
        let s = training.schedule
        var doc = "The learning rate at optimizer step `step` (from 0) as a multiple of LEARNING_RATE:\n    "
        var body: [String] = []
        if s.warmupSteps > 0 {
            doc += "rising linearly over the first \(s.warmupSteps) steps (1/\(s.warmupSteps) of it on the first), then "
            body += ["    if step < \(s.warmupSteps):", "        return (step + 1) / \(s.warmupSteps)", "    step -= \(s.warmupSteps)"]
        }
        switch s.decay {
        case .constant:
            doc += "constant."
            body.append("    return 1.0")
        case .step(let size, let gamma):
            doc += "multiplied by \(pythonNumber(gamma)) every \(size) steps."
            body.append("    return \(pythonNumber(gamma)) ** (step // \(size))")
        case .cosine(let minimum):
            doc += "half a cosine down to \(pythonNumber(minimum)), held there after TOTAL_STEPS."
            let floor = significant(decimal(minimum) / decimal(training.optimizer.learningRate))
            body += ["    span = max(1, TOTAL_STEPS - \(s.warmupSteps))",
                     "    progress = min(step, span) / span",
                     floor == 0 ? "    return (1 + math.cos(math.pi * progress)) / 2"
                        : "    return \(pythonNumber(floor)) + (1 - \(pythonNumber(floor))) * (1 + math.cos(math.pi * progress)) / 2"]
        }
        return (["def learning_rate_factor(step):", "    \"\"\"\(doc)\"\"\""] + body).joined(separator: "\n")
    }
}
