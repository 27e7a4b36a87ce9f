# `make test` and `make demo` set everything up from nothing: a virtualenv with torch pinned
# (CPU build) through constraints.txt, this package with its extras, and Debian's Fashion-MNIST
# when it is missing and apt is available.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
DEMO := results/demo

.PHONY: test demo data setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Fashion-MNIST is only needed for training; a failed install is reported, not fatal.
data:
	@if [ -z "$$DESIGNSPACE_DATA" ] && [ ! -d "$(FASHION_MNIST)" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's dataset-fashion-mnist"; \
		(apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) || \
		echo "warning: could not install dataset-fashion-mnist; pass --data-dir to training commands"; \
	fi

test: $(STAMP) data
	$(BIN)/python -m pytest -q

demo: $(STAMP) data
	@mkdir -p $(DEMO)
	$(BIN)/designspace sample --space regnetx --n 500 --flops 360e6:400e6 -o $(DEMO)/regnetx.jsonl
	$(BIN)/designspace sample --space anynetx_a --n 500 --flops 360e6:400e6 -o $(DEMO)/anynetx_a.jsonl
	$(BIN)/designspace sample --space anynetx_e --n 500 --flops 360e6:400e6 -o $(DEMO)/anynetx_e.jsonl
	$(BIN)/designspace sample --space regnetx --n 100 --resolution 28 --in-channels 1 --num-classes 10 \
		--stem-type res_stem_cifar --flops 20e6:60e6 -o $(DEMO)/regnetx_fashion_mnist.csv

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_sampling.py
	$(BIN)/python benchmarks/bench_complexity.py
	$(BIN)/python benchmarks/bench_regnet_fit.py
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
