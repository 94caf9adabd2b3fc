import Foundation
import Engine

/// An autoregressive policy over a fixed sequence of discrete decisions, trained by REINFORCE
/// (Williams 1992) on the engine's layers, as the controller of Zoph & Le 2017 and ENAS (Pham et
/// al. 2018) but with an MLP over the decisions made so far in place of their LSTM.
///
/// The input is one block of one-hot cells per decision — the option each earlier decision took,
/// zeros for decisions not yet made or inactive — so every decision sees the ones before it. A
/// shared hidden layer `tanh(W₁x + b₁)` feeds one output head per decision; the heads are stacked
/// into one `Linear` whose output has the same block layout as the input, and decision j reads
/// the logits of its own block.
///
///     let policy = PolicyNetwork(classes: [4, 4, 4], hidden: 16, seed: 1)
///     var state = policy.emptyState()
///     let p = policy.probabilities(of: 0, state: state)   // 4 probabilities
///     policy.set(0, choice: 2, in: &state)
final class PolicyNetwork {
    /// Number of options of each decision.
    let classes: [Int]
    /// Start of each decision's block, in the input and in the output.
    let offsets: [Int]
    /// Σ classes: the width of the input and of the output.
    let width: Int
    let context = ExecutionContext(mode: .real)
    let network: Sequential
    let store: ParameterStore
    let optimizer = AdamW.adam()
    private var row: Tensor                    // (1, width) the state being sampled from
    private var batch: Tensor?                 // (decisions, width) states of one update
    private var logitGradient: Tensor?         // (decisions, width)

    /// - Parameters:
    ///   - classes: options per decision, each ≥ 1.
    ///   - hidden: width of the shared hidden layer.
    ///   - seed: initial weights come from it alone.
    init(classes: [Int], hidden: Int, seed: UInt64) {
        precondition(!classes.isEmpty && classes.allSatisfy { $0 >= 1 }, "a policy needs decisions of at least one option, got \(classes)")
        self.classes = classes
        var offsets: [Int] = [], total = 0
        for c in classes { offsets.append(total); total += c }
        self.offsets = offsets
        width = total
        let heads = Linear("policy.heads", hidden, width)
        network = Sequential("policy", [Linear("policy.hidden", width, hidden), Activation(.tanh), heads])
        network.needsInputGradient = false
        store = ParameterStore(network.parameters, context: context)
        var rng = RandomSource.derived(seed: seed, stream: .max)
        network.initialize(using: &rng)
        // Small heads start the policy close to uniform, so early trials explore.
        let w = heads.weight.value
        for i in 0..<w.count { w.data[i] *= 0.1 }
        row = Tensor(shape: [1, width], context: context)
    }

    /// The input with no decision made.
    func emptyState() -> [Float] { [Float](repeating: 0, count: width) }

    /// Record in `state` that decision `j` took option `choice`.
    func set(_ j: Int, choice: Int, in state: inout [Float]) {
        state[offsets[j] + choice] = 1
    }

    /// The logits of decision `j` after the decisions recorded in `state`.
    func logits(of j: Int, state: [Float]) -> [Double] {
        let x = row.data
        for i in 0..<width { x[i] = state[i] }
        let y = network.forward(row, training: false)
        return (0..<classes[j]).map { Double(y.data[offsets[j] + $0]) }
    }

    /// π(· | decisions in `state`) for decision `j`.
    func probabilities(of j: Int, state: [Float]) -> [Double] {
        softmax(logits(of: j, state: state))
    }

    /// log π(decisions): the sum over the decisions made (nil entries are inactive and skipped),
    /// each conditioned on the ones before it.
    func logProbability(_ decisions: [Int?]) -> Double {
        var state = emptyState(), total = 0.0
        for (j, choice) in decisions.enumerated() {
            guard let choice else { continue }
            total += logSoftmax(logits(of: j, state: state))[choice]
            set(j, choice: choice, in: &state)
        }
        return total
    }

    /// log π(aⱼ | a₍<ⱼ₎) of each active decision, in order (inactive ones skipped).
    func decisionLogProbabilities(_ decisions: [Int?]) -> [Double] {
        var state = emptyState(), result: [Double] = []
        for (j, choice) in decisions.enumerated() {
            guard let choice else { continue }
            result.append(logSoftmax(logits(of: j, state: state))[choice])
            set(j, choice: choice, in: &state)
        }
        return result
    }

    /// Forward the decisions as one batch (one row per active decision, each row seeing the
    /// decisions before it), and accumulate into `store.grads` the gradient of Σⱼ Lⱼ, where
    /// `loss(r, zⱼ, aⱼ)` gives the loss of the r-th active decision from its logits and its
    /// gradient with respect to them.
    /// - Returns: Σⱼ Lⱼ.
    @discardableResult
    func accumulateGradient(_ decisions: [Int?], loss: (_ row: Int, _ logits: [Double], _ action: Int) -> (loss: Double, gradient: [Double])) -> Double {
        precondition(decisions.count == classes.count, "\(decisions.count) decisions for a policy of \(classes.count)")
        let active = decisions.enumerated().compactMap { j, choice in choice.map { (j, $0) } }
        guard !active.isEmpty else { return 0 }
        let x = context.buffer(batch, [active.count, width]); batch = x
        var state = emptyState()
        for (r, (j, choice)) in active.enumerated() {
            for i in 0..<width { x.data[r * width + i] = state[i] }
            set(j, choice: choice, in: &state)
        }
        let y = network.forward(x, training: true)                       // (rows, width)
        let dy = context.buffer(logitGradient, [active.count, width]); logitGradient = dy
        dy.fill(0)
        var total = 0.0
        for (r, (j, choice)) in active.enumerated() {
            let base = r * width + offsets[j]
            let z = (0..<classes[j]).map { Double(y.data[base + $0]) }
            let term = loss(r, z, choice)
            total += term.loss
            for k in 0..<classes[j] { dy.data[base + k] = Float(term.gradient[k]) }
        }
        _ = network.backward(dy)
        return total
    }

    /// Accumulate the gradient of the REINFORCE loss
    /// L = Σⱼ −A·log π(aⱼ | a₍<ⱼ₎) − β·H(π(· | a₍<ⱼ₎)).
    /// - Returns: L.
    @discardableResult
    func accumulateGradient(_ decisions: [Int?], advantage: Double, entropyWeight: Double) -> Double {
        accumulateGradient(decisions) { _, z, a in
            reinforceLoss(logits: z, action: a, advantage: advantage, entropyWeight: entropyWeight)
        }
    }

    /// One Adam step (Kingma & Ba 2015) on the gradient accumulated since `store.zeroGradients()`.
    func step(learningRate: Float) {
        optimizer.step(store, learningRate: learningRate)
    }

    /// One Adam step on the REINFORCE loss of `decisions`.
    /// - Returns: the loss before the step.
    @discardableResult
    func reinforce(_ decisions: [Int?], advantage: Double, entropyWeight: Double, learningRate: Float) -> Double {
        store.zeroGradients()
        let loss = accumulateGradient(decisions, advantage: advantage, entropyWeight: entropyWeight)
        step(learningRate: learningRate)
        return loss
    }
}

/// The REINFORCE loss of one decision and its gradient with respect to the decision's logits z
/// (Williams 1992; entropy bonus as in Mnih et al. 2016):
///
///     L = −A·log π(a) − β·H(π),   π = softmax(z),   H = −Σₖ πₖ log πₖ
///     ∂L/∂zₖ = A·(πₖ − [k = a]) + β·πₖ·(log πₖ + H)
///
/// - Parameters:
///   - logits: z, one per option.
///   - action: a, the option taken.
///   - advantage: A, the reward minus the baseline.
///   - entropyWeight: β ≥ 0.
func reinforceLoss(logits: [Double], action: Int, advantage: Double, entropyWeight: Double) -> (loss: Double, gradient: [Double]) {
    let logp = logSoftmax(logits)
    let p = logp.map { Foundation.exp($0) }
    var entropy = 0.0
    for k in p.indices where p[k] > 0 { entropy -= p[k] * logp[k] }
    let loss = -advantage * logp[action] - entropyWeight * entropy
    let gradient = p.indices.map { k -> Double in
        let entropyTerm = p[k] > 0 ? entropyWeight * p[k] * (logp[k] + entropy) : 0
        return advantage * (p[k] - (k == action ? 1 : 0)) + entropyTerm
    }
    return (loss, gradient)
}

/// log softmax(z), shifted by the maximum for stability.
func logSoftmax(_ z: [Double]) -> [Double] {
    guard let m = z.max() else { return [] }
    let logSum = Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) }) + m
    return z.map { $0 - logSum }
}

/// softmax(z).
func softmax(_ z: [Double]) -> [Double] { logSoftmax(z).map { Foundation.exp($0) } }
