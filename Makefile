# autotune — build, test and benchmark.
#   make run     set everything up, then run the default job
#   make test    set everything up, then run the test suite
SWIFT        ?= swift
PYTHON       ?= python3
APT_PACKAGES := libopenblas-dev libsqlite3-dev zlib1g-dev pkg-config libgnuplot-iostream-dev dataset-fashion-mnist
BIN          := .build/release/autotune
PEERS        := Sources/Bench/peers

.PHONY: all setup deps build run test bench bench-peers clean

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

run: setup
	$(BIN) bench engine

test: setup
	$(SWIFT) test

bench: setup
	$(BIN) bench engine

# PyTorch and JAX running the engine benchmark's recipe, for a side-by-side comparison.
bench-peers:
	@$(PYTHON) -c "import torch, jax" 2>/dev/null || $(PYTHON) -m pip install --quiet torch jax
	$(PYTHON) $(PEERS)/torch_engine.py
	$(PYTHON) $(PEERS)/jax_engine.py

clean:
	rm -rf .build
