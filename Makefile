# Two commands do all set-up on a fresh machine:
#   make quickstart   -> creates .venv, installs wsbench, imports ../shared/data, runs the main job
#   make test         -> creates .venv, installs wsbench with dev extras, runs the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/data
export WSBENCH_DATA_DIR ?= $(CURDIR)/.wsbench-data

.PHONY: venv test lint quickstart search-demo bench bench-extras clean

$(BIN)/wsbench: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(BIN)/wsbench

venv: $(BIN)/wsbench

test: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check src tests bench

quickstart: venv
	$(BIN)/wsbench data import $(SHARED)
	$(BIN)/wsbench quickstart --out runs/quickstart-$$(date +%Y%m%d-%H%M%S)

search-demo: venv
	$(BIN)/wsbench data import $(SHARED)
	$(BIN)/wsbench search --space nb201 --algo gs --runs 100 --budget 1000 --out runs/search-nb201

bench: venv
	$(BIN)/python bench/run_all.py

# The peers of bench/bench_peers.py (xautodl, NNI 3.0 and what NNI imports), benchmark-only: installed into
# .bench-extras/ without their dependency pins (NNI's would downgrade wsbench's own), never on wsbench's path.
BENCH_EXTRAS := xautodl==1.0.0 nni==3.0 "pytorch-lightning<2.5" torchmetrics lightning-utilities json_tricks \
	schema "typeguard<4.1.3" prettytable astor colorama wcwidth psutil tqdm websockets
bench-extras: venv
	$(BIN)/pip install -q --no-deps --target .bench-extras $(BENCH_EXTRAS)

clean:
	rm -rf $(VENV) .wsbench-data runs .bench-extras
