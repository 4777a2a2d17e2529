# sparselayers — set-up, tests, demo, benchmarks.
# TORCH_SPEC picks the torch build: the default is the CPU build that lies on this disk;
# on a GPU machine use e.g. `make install TORCH_SPEC="torch>=2.4,<3"`.
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint format docs demo reproduce bench bench-gpu clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[reference,harness,dev,docs,bench]"
	# qpth 0.0.18 does not build; 0.0.17 works beside numpy 2 when its pins are skipped.
	$(PY) -m pip install -q --no-deps "qpth==0.0.17"
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check sparselayers harness tests benchmarks examples
	$(VENV)/bin/ruff format --check sparselayers harness tests benchmarks examples

format: install
	$(VENV)/bin/ruff format sparselayers harness tests benchmarks examples
	$(VENV)/bin/ruff check --fix sparselayers harness tests benchmarks examples

# The docs site (Sphinx, from the docstrings and docs/*.rst); warnings are errors.
docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

test: install lint docs
	$(PY) -m pytest -q

demo: install
	$(PY) -m harness demo

# The quick-scale figures: Fig. 1, Section 5.1 / App. D.2, Fig. 5 (resumes from results/quick).
reproduce: install
	$(PY) -m harness reproduce --scale quick

bench: install
	$(PY) -m benchmarks.report

# On a CUDA machine (install a CUDA torch through TORCH_SPEC): the headline group-Lasso and
# SVM-head problems, sync counts and training steps, within 8 minutes, into
# benchmarks/results/gpu/report.md. Exits with a message when CUDA is unavailable.
bench-gpu: install
	$(PY) -m benchmarks.gpu --device cuda

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks .asv benchmarks/results docs/_build
