"""Checks an ONNX file written by `autotune eval --onnx` against the engine.

`autotune eval CANDIDATE.json --onnx M.onnx --predictions P.txt --test-inputs X.npy` trains the
candidate and writes its final model, the engine's predicted class for every test sample (one per
line; one per position for a language model) and the exact float inputs those predictions are
for. This script runs the model in ONNX Runtime on the same inputs, in the same batches of 256
samples as the engine (a dynamically quantized model's input scale is its batch's), and reports
how many predicted classes agree.

It exits 1 when more than --max-mismatch of the predictions disagree (default 0: every class must
agree), 2 for unusable files. Usage:

    python3 check_onnx.py M.onnx X.npy P.txt [--name mlp] [--batch 256] [--max-mismatch 0.001]
"""

import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the ONNX file")
    parser.add_argument("inputs", help="the test inputs, a float32 .npy array")
    parser.add_argument("predictions", help="the engine's predicted classes, one per line")
    parser.add_argument("--name", help="how to name the model in the report (default: the file)")
    parser.add_argument("--batch", type=int, default=256, help="samples per run, as the engine predicted (default 256)")
    parser.add_argument("--max-mismatch", type=float, default=0.0,
                        help="largest fraction of samples allowed to disagree (default 0)")
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort

    name = args.name or args.model
    try:
        inputs = np.load(args.inputs)
        with open(args.predictions) as f:
            engine = np.array([int(line) for line in f if line.strip()], dtype=np.int64)
    except (OSError, ValueError) as e:
        print(f"{name}: cannot read the engine's outputs: {e}", file=sys.stderr)
        return 2
    if inputs.dtype != np.float32:
        print(f"{name}: the inputs are {inputs.dtype}, not float32", file=sys.stderr)
        return 2
    if args.batch < 1:
        print(f"{name}: --batch must be at least 1, got {args.batch}", file=sys.stderr)
        return 2

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for a bad model
        print(f"{name}: onnxruntime cannot load {args.model}: {e}", file=sys.stderr)
        return 1
    input_name = session.get_inputs()[0].name
    classes = []
    for lo in range(0, len(inputs), args.batch):
        (logits,) = session.run(None, {input_name: inputs[lo:lo + args.batch]})
        classes.append(np.argmax(logits.reshape(-1, logits.shape[-1]), axis=1))
    runtime = np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)
    if len(runtime) != len(engine):
        print(f"{name}: the engine predicted {len(engine)} classes, the model gives {len(runtime)} "
              f"for {len(inputs)} inputs", file=sys.stderr)
        return 2

    agree = int(np.sum(runtime == engine))
    total = len(engine)
    fraction = agree / total if total else 1.0
    verdict = "ok" if total - agree <= args.max_mismatch * total else "FAILED"
    print(f"{name}: onnxruntime {ort.__version__} agrees with the engine on {agree}/{total} predictions "
          f"({100 * fraction:.2f} %, allowed mismatch {100 * args.max_mismatch:.2f} %): {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
