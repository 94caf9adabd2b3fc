"""ONNX Runtime beside `autotune bench compression --peers`: the FP32 model the
engine trained, exported to ONNX, run by ONNX Runtime as it is and after ONNX
Runtime's own post-training static quantization, with the recipe of the
engine's int8_ptq technique: activation ranges from the first 2048 training
samples at the 99.99th percentile, weights symmetric per output channel.

For each batch size the two sessions take turns on the same seeded inputs
(uniform in [-1, 1), like the engine's latency measurement): 3 warm-up runs,
then rounds until at least 15 and one second have passed (at most 1000), the
median of each. The whole test set is run at the training batch (128) for the
test-set seconds and the accuracy of both. Records (suite `peers`):
`<model>.ort_fp32.latency_b<N>_ms`, `<model>.ort_int8.latency_b<N>_ms`,
`<model>.ort_int8.latency_speedup_b<N>` (FP32 over int8), `.test_seconds`,
`.accuracy` and `<model>.ort_int8.speedup` (FP32 test-set seconds over int8).

    python3 onnxruntime_int8.py --model mlp.onnx --name mlp --json
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_DATA_DIR, emit, load_fashion_mnist, log  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ONNX Runtime FP32 and int8 peer of `autotune bench compression`.")
    p.add_argument("--model", required=True, help="the FP32 model exported by autotune (.onnx)")
    p.add_argument("--name", required=True, help="the model's name in the records (mlp, cnn)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="Fashion-MNIST IDX files (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default: %(default)s)")
    p.add_argument("--batches", default="1,128", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--calibration-samples", type=int, default=2048, help="training samples for the ranges (default: %(default)s)")
    p.add_argument("--percentile", type=float, default=99.99, help="calibration percentile (default: %(default)s)")
    p.add_argument("--reduce-range", action="store_true",
                   help="7-bit weights, as ONNX Runtime advises for x86 CPUs without VNNI")
    p.add_argument("--seed", type=int, default=0, help="seed of the latency inputs (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    try:
        args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batches takes comma-separated positive integers, got {args.batches!r}")
    if not args.batches or min(args.batches) < 1:
        p.error(f"--batches takes comma-separated positive integers, got {args.batches!r}")
    if args.threads < 1 or args.calibration_samples < 1:
        p.error("--threads and --calibration-samples must be at least 1")
    if not os.path.isfile(args.model):
        p.error(f"--model {args.model}: no such file")
    return args


def session(path, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def quantize(fp32_path, int8_path, calibration, args):
    """ONNX Runtime's quantize_static: QOperator format (QLinearConv, QLinearMatMul), uint8
    activations, int8 weights per output channel, percentile calibration over `calibration`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = session(fp32_path, 1).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{name: calibration[i:i + 256]} for i in range(0, len(calibration), 256)])

        def get_next(self):
            return next(self.batches, None)

    prepared = int8_path + ".prepared.onnx"
    quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)
    quantize_static(prepared, int8_path, Reader(), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    reduce_range=args.reduce_range, calibrate_method=CalibrationMethod.Percentile,
                    extra_options={"CalibPercentile": args.percentile})
    os.remove(prepared)


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def latencies(sessions, x):
    """Median milliseconds of each session on x, the sessions taking turns."""
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    for _ in range(3):
        for s, f in zip(sessions, feeds):
            s.run(None, f)
    runs = [[] for _ in sessions]
    start = time.perf_counter()
    while len(runs[0]) < 15 or (len(runs[0]) < 1000 and time.perf_counter() - start < 1):
        for i, (s, f) in enumerate(zip(sessions, feeds)):
            t = time.perf_counter()
            s.run(None, f)
            runs[i].append((time.perf_counter() - t) * 1e3)
    return [median(r) for r in runs]


def test_pass(sess, x, y, batch=128):
    """Seconds of a pass over the test set and its accuracy."""
    import numpy as np
    name = sess.get_inputs()[0].name
    correct = 0
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        logits = sess.run(None, {name: x[i:i + batch]})[0]
        correct += int((np.argmax(logits, axis=1) == y[i:i + batch]).sum())
    return time.perf_counter() - start, correct / len(x)


def main():
    args = parse_args()
    import numpy as np
    import onnxruntime as ort

    fp32 = session(args.model, args.threads)
    shape = [d if isinstance(d, int) else -1 for d in fp32.get_inputs()[0].shape]
    x_train, _, x_test, y_test = load_fashion_mnist(args.data_dir, "onnxruntime", np.int64)
    sample = [d for d in shape[1:]]
    calibration = x_train[:args.calibration_samples].reshape([-1] + sample).astype(np.float32)
    x_test = x_test.reshape([-1] + sample).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        int8_path = os.path.join(tmp, "int8.onnx")
        log(f"{args.name}: quantizing with onnxruntime {ort.__version__} on {len(calibration)} training samples")
        with contextlib.redirect_stdout(sys.stderr):   # the calibrator prints its progress
            quantize(args.model, int8_path, calibration, args)
        int8 = session(int8_path, args.threads)
    records = []

    def add(name, value, unit, better):
        records.append({"suite": "peers", "name": f"{args.name}.{name}", "value": round(value, 6),
                        "unit": unit, "better": better})

    rng = np.random.default_rng(args.seed)
    for batch in args.batches:
        x = (2 * rng.random([batch] + sample, dtype=np.float32) - 1).astype(np.float32)
        f, q = latencies([fp32, int8], x)
        log(f"{args.name}: batch {batch}: fp32 {f:.3f} ms, int8 {q:.3f} ms")
        add(f"ort_fp32.latency_b{batch}_ms", f, "ms", "lower")
        add(f"ort_int8.latency_b{batch}_ms", q, "ms", "lower")
        add(f"ort_int8.latency_speedup_b{batch}", f / max(q, 1e-9), "x", "higher")
    test_pass(fp32, x_test[:256], y_test[:256])   # warm-up
    test_pass(int8, x_test[:256], y_test[:256])
    f_seconds, f_accuracy = test_pass(fp32, x_test, y_test)
    q_seconds, q_accuracy = test_pass(int8, x_test, y_test)
    add("ort_fp32.test_seconds", f_seconds, "s", "lower")
    add("ort_int8.test_seconds", q_seconds, "s", "lower")
    add("ort_fp32.accuracy", f_accuracy, "fraction", "higher")
    add("ort_int8.accuracy", q_accuracy, "fraction", "higher")
    add("ort_int8.speedup", f_seconds / max(q_seconds, 1e-9), "x", "higher")
    host = {"peer": "onnxruntime", "version": ort.__version__, "threads": args.threads,
            "reduce_range": args.reduce_range}
    emit(records, host, args.json)


if __name__ == "__main__":
    main()
