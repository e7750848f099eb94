# The README's commands. Each target does the set-up it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := $(VENV)/share/jupyter/kernels/cjresearch/kernel.json
PYTEST_ARGS ?=

.PHONY: help setup browser spark demo test lint typecheck sample clean

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
	$(BIN)/python -m pip install --quiet -e ".[dev,explore]"
	touch $@

# A named kernel inside the venv, so notebooks run on exactly these packages.
$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name cjresearch --display-name "Python (cjresearch)"

demo: setup
	$(BIN)/cjresearch build

# Code tests on two workers; then every bundled notebook with its defaults (a tiny fixture
# study), outputs not compared (nbval runs a notebook's cells in order in one kernel, so the
# notebooks stay out of xdist).
test: setup browser spark
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS) tests src
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env $(PYTEST_ARGS) notebooks

# Debian's chromium for the browser tests (Playwright drives it; no browser is downloaded).
# Idempotent: does nothing once chromium is on PATH; needs root or sudo the first time.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Spark for `[data] engine = "spark"` and its tests: Debian's Java 17 (installed only when
# `java` is missing; needs root or sudo then) and the `spark` extra (pyspark) in .venv.
SPARK_STAMP := $(VENV)/.spark-stamp
spark: setup $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP)
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Java 17 for Spark (apt-get)"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    openjdk-17-jre-headless >/dev/null; }
	$(BIN)/python -m pip install --quiet -e ".[dev,explore,spark]"
	touch $@

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy src

sample: setup
	$(BIN)/cjresearch sample data/sample

clean:
	rm -rf reports/*.html reports/manifest.json reports/personas reports/stages reports/analysis \
	       reports/tables reports/.cjresearch data/processed tests/fixtures/fixture_study/processed
	find data/sample -mindepth 1 ! -name study.toml ! -name README.md -delete
