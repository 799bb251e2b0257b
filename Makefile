# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
TORCH_INDEX ?=
VENV   := .venv
PY     := $(VENV)/bin/python
export TSMAMBA_DATA ?= $(abspath ../shared/datasets)

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel of torch first, unless some torch is already present:
	# an unpinned torch pulled by a dependency would fetch a multi-GB CUDA build.
	# TORCH_INDEX=https://download.pytorch.org/whl/cpu takes it from PyTorch's CPU index where
	# pip's own sources have no CPU wheel (plain PyPI serves the CUDA build on Linux).
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/tsmamba demo --out reports/demo

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) experiments/benchmarks/bench_ssd.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis tsmamba.egg-info build dist reports runs
