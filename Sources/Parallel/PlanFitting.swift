import Engine
import Hardware

/// One change to a plan, written as the `autotune estimate` option that makes it, and the memory
/// per device the changed plan needs.
public struct PlanChange: Codable, Equatable, Sendable {
    /// The plan key it changes (`zero`, `checkpointing`, `tp`, `pp`, `micro_batch`, `offload`).
    public var key: String
    /// Its new value, as the option takes it.
    public var value: String
    /// The option line: `--zero 2`, `--tp 4 --dp 2`, `--offload`.
    public var option: String
    /// Bytes per device the changed plan needs.
    public var memory: Double
    public var plan: ParallelPlan
}

extension TrainingJob {
    /// The neighbouring plans that change one thing, in the order tried — the cheapest in step
    /// time first, as a user would reach for them:
    /// 1. a higher ZeRO stage (each in turn: sharding costs little time when gradients are
    ///    reduced anyway);
    /// 2. more recomputation (selective, then full: recomputing costs compute);
    /// 3. twice the tensor-parallel degree, then twice the pipeline stages (fewer data ranks:
    ///    more communication, a longer bubble);
    /// 4. half the micro-batch (more micro-batches per step);
    /// 5. the optimizer offloaded to the host (the update over PCIe is the slowest), or, under
    ///    ZeRO-3 with the optimizer offloaded already, the parameters too.
    /// Plans that break a constraint (ZeRO-2/3 with pipeline stages, tp not dividing the heads,
    /// dp not halving) are left out.
    public func neighbours() -> [(key: String, value: String, option: String, plan: ParallelPlan)] {
        var out: [(String, String, String, ParallelPlan)] = []
        let p = plan
        for stage in (p.zero + 1)...3 where p.zero < 3 {
            var q = p; q.zero = stage
            out.append(("zero", String(stage), "--zero \(stage)", q))
        }
        let recompute: [ParallelPlan.Checkpointing] = p.checkpointing == .none ? [.selective, .full] : p.checkpointing == .selective ? [.full] : []
        for c in recompute {
            var q = p; q.checkpointing = c
            out.append(("checkpointing", c.rawValue, "--checkpointing \(c.rawValue)", q))
        }
        if p.dp % 2 == 0 {
            var q = p; q.tp *= 2; q.dp /= 2
            out.append(("tp", String(q.tp), "--tp \(q.tp) --dp \(q.dp)", q))
            var r = p; r.pp *= 2; r.dp /= 2
            out.append(("pp", String(r.pp), "--pp \(r.pp) --dp \(r.dp)", r))
        }
        if p.microBatch > 1 {
            var q = p; q.microBatch /= 2; q.gradientAccumulation = p.gradientAccumulation.map { $0 * 2 }
            out.append(("micro_batch", String(q.microBatch), "--micro-batch \(q.microBatch)", q))
        }
        if !p.offload {
            var q = p; q.offload = true
            out.append(("offload", "true", "--offload", q))
        } else if p.zero >= 3, !p.offloadParameters {
            var q = p; q.offloadParameters = true
            out.append(("offload_parameters", "true", "--offload-params", q))
        }
        return out.map { (key: $0.0, value: $0.1, option: $0.2, plan: $0.3) }
    }

    /// The first neighbouring plan (`neighbours()`, in its order) that fits in device and host
    /// memory; nil when none does.
    public func fittingChange() -> PlanChange? {
        for n in neighbours() {
            var job = self
            job.plan = n.plan
            guard let e = try? job.estimate(), e.infeasible == nil else { continue }
            return PlanChange(key: n.key, value: n.value, option: n.option, memory: e.memory.total, plan: e.plan)
        }
        return nil
    }
}
