# The README's commands. Each target does the set-up it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := $(VENV)/share/jupyter/kernels/cjresearch/kernel.json
PYTEST_ARGS ?=

.PHONY: help setup demo test lint typecheck sample clean

help:
	@echo "make demo   set up .venv and build the bundled sample study into reports/"
	@echo "make test   set up .venv and run the whole test suite"
	@echo "make lint   ruff (lint + format check) and mypy"
	@echo "make clean  remove generated output (reports, artifacts, sample data)"

setup: $(STAMP) $(KERNEL)

# Reinstall when the dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# A named kernel inside the venv, so notebooks run on exactly these packages.
$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name cjresearch --display-name "Python (cjresearch)"

demo: setup
	$(BIN)/cjresearch build

test: setup
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy src

sample: setup
	$(BIN)/cjresearch sample data/sample

clean:
	rm -rf reports/*.html reports/manifest.json reports/personas reports/stages reports/analysis \
	       reports/tables data/processed
	find data/sample -mindepth 1 ! -name study.toml ! -name README.md -delete
