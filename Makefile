# `make test` and `make demo` set everything up from nothing: a virtualenv with torch pinned to
# 2.13.0 through constraints.txt (the CPU wheel where pip is set up to find it; see README), this
# package with its extras, and Debian's Fashion-MNIST when it is missing and apt is available.
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

LINTED := designspace tests benchmarks

test: $(STAMP) data
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python -m pytest -q

STUDY := --n 16 --flops 2e6:6e6 --dataset fashion-mnist --train-subset 3000 --test-subset 1000 \
	--epochs 3 --warmup-epochs 0.5

demo: $(STAMP) data
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/designspace sample --space regnetx --n 500 --flops 360e6:400e6 -o $(DEMO)/regnetx_400mf.jsonl
	$(BIN)/designspace sweep --space anynetx_a $(STUDY) -o $(DEMO)/anynetx_a
	$(BIN)/designspace sweep --space regnetx $(STUDY) -o $(DEMO)/regnetx
	$(BIN)/designspace edf $(DEMO)/anynetx_a $(DEMO)/regnetx -o $(DEMO)/edf.png
	$(BIN)/designspace report $(DEMO)/anynetx_a $(DEMO)/regnetx -o $(DEMO)/report.html

# `make bench BENCH=--quick` for smaller sizes; BENCH="--only training,sweep" for some of it.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
