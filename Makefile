# autotune — build, test and benchmark.
#   make run     set everything up, then run the default search (searchspaces/quickstart.json)
#   make test    set everything up, then run the test suite
SWIFT        ?= swift
PYTHON       ?= python3
APT_PACKAGES ?= libopenblas-dev libsqlite3-dev zlib1g-dev pkg-config libgnuplot-iostream-dev gnuplot-nox dataset-fashion-mnist python3
BIN          := .build/release/autotune
PEERS        := Sources/Bench/peers

.PHONY: all setup deps build run test check-report bench bench-peers clean

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

bench: setup
	$(BIN) bench engine
	$(BIN) bench search
	$(BIN) bench compression
	$(BIN) bench costmodel

# The peers side by side: PyTorch and JAX on the engine benchmark's recipe; pymoo and Optuna on
# the search benchmark's problems and budgets (with ours in the same run).
bench-peers: setup
	@$(PYTHON) -c "import torch, jax" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages torch jax
	@$(PYTHON) -c "import pymoo, optuna" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages pymoo optuna
	$(PYTHON) $(PEERS)/torch_engine.py
	$(PYTHON) $(PEERS)/jax_engine.py
	$(BIN) bench search --only quality,overhead --peers

clean:
	rm -rf .build
