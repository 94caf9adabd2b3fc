import Engine

/// Trains a student against its teachers' softened outputs: the loss of every micro-batch is
/// α·T²·KL(p_teacher ‖ p_student) + (1 − α)·CE (Hinton et al. 2015), with several teachers'
/// soft targets averaged. Teachers run in evaluation mode in their own contexts. With a feature
/// match, the student's last hidden features also learn the first teacher's.
public final class DistillationHook: TrainingHook {
    public let teachers: [Model]
    public let temperature: Float
    public let alpha: Float
    /// Feature distillation through a learned projection (nil: logits only).
    var feature: FeatureMatch?
    private var inputs: [Tensor?]
    private var gradient: Tensor?

    public init(teachers: [Model], temperature: Float, alpha: Float) {
        precondition(!teachers.isEmpty, "distillation needs a teacher")
        self.teachers = teachers; self.temperature = temperature; self.alpha = alpha
        inputs = Array(repeating: nil, count: teachers.count)
    }

    public func loss(_ model: Model, logits: Tensor, input: Tensor, labels: UnsafePointer<Int32>) -> SoftmaxCrossEntropy.Result? {
        let classes = logits.shape.last ?? 1
        let rows = logits.count / classes
        var teacherLogits: [UnsafePointer<Float>] = []
        var teacherFeatures: Tensor?
        for (i, teacher) in teachers.enumerated() {
            let x = teacher.context.buffer(inputs[i], input.shape); inputs[i] = x
            x.copy(from: input)
            // Layer by layer, to keep the classifier's input: the teacher's last hidden features.
            let layers = teacher.network.layers
            let hidden = layers.dropLast().reduce(x) { $1.forward($0, training: false) }
            if i == 0 { teacherFeatures = hidden }
            let y = layers.last.map { $0.forward(hidden, training: false) } ?? hidden
            teacherLogits.append(UnsafePointer(y.data))
        }
        let targets = averagedSoftTargets(teacherLogits, rows: rows, classes: classes, temperature: temperature)
        let g = model.context.buffer(gradient, [rows, classes]); gradient = g
        model.context.record("distillation_loss", .loss, flops: 10 * Double(logits.count), read: 2 * Double(logits.count), written: Double(logits.count))
        let loss = targets.withUnsafeBufferPointer {
            distillationLoss(student: logits.data, softTargets: $0.baseAddress!, labels: labels, rows: rows, classes: classes,
                             temperature: temperature, alpha: alpha, gradient: g.data)
        }
        var total = loss
        if let feature, let target = teacherFeatures {
            total += feature.loss(target: target.data, rows: rows)
        }
        var correct = 0
        let z = logits.data
        for r in 0..<rows {
            let row = z + r * classes
            var arg = 0
            for c in 1..<classes where row[c] > row[arg] { arg = c }
            if arg == Int(labels[r]) { correct += 1 }
        }
        return SoftmaxCrossEntropy.Result(loss: total, correct: correct, gradient: g)
    }
}
