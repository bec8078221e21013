# flatbook: build, demo, tests and benchmarks.  GNU make; Python >= 3.11.
#   make demo    simulate and compare the four headline policies (results/demo)
#   make test    run the whole test suite (installs headless chromium for the browser tests first)
#   make test-busy  the same beside one CPU-burning process per core (.ci/busy), as on a loaded machine
#   make soak    the long soaks, deselected from make test and CI (55+ SIGKILLs per crash-recovery variant)
#   make browser install Debian's chromium and chromium-driver unless both are on PATH
#   make bench   run every benchmarks/bench_*.py (results/bench; bench_app.py drives headless chromium);
#                make bench BENCH_ARGS=--quick for a short run
#   make clean   remove .venv, results and caches

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT := results/demo
BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install browser demo lint test test-busy soak bench clean clean-numba docs

help:
	@echo "make demo   - install into $(VENV) and run the policy comparison (writes $(DEMO_OUT))"
	@echo "make lint   - ruff check and ruff format --check over src, tests, benchmarks and examples"
	@echo "make test   - install into $(VENV), lint, and run the test suite (needs chromium: see make browser)"
	@echo "make test-busy - make test beside one CPU hog per core (.ci/busy); the suite must pass on a loaded machine"
	@echo "make soak   - the long soaks (crash recovery: 55+ SIGKILLs per variant over 36,000 events; ~5 min); not CI"
	@echo "make browser - apt-get install chromium chromium-driver (for tests/test_app_browser.py) unless present"
	@echo "make bench  - run the benchmarks in benchmarks/ (writes results/bench; BENCH_ARGS=--quick for a short run)"
	@echo "make docs   - build the documentation site strictly into site/ (open site/index.html)"
	@echo "make clean  - remove $(VENV), results/ and caches"
	@echo "make clean-numba - drop numba's compiled-kernel cache (frees disk; edits never need it: kernels are keyed on their sources)"

# The virtual environment, created once.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "flatbook needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) --version 2>&1). Use: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "'$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }

# Install (editable, with test extras) only when pyproject.toml changes.
# Then compile the engines' kernels once (numba's on-disk cache, keyed on their sources), so that the
# first run after an install loads them instead of compiling for about 30 s; no number depends on it.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@echo "compiling kernels (first run only)..."
	$(VENV)/bin/flatbook compare --preset as2008 --policy symmetric --policy linear-skew --policy stoll \
	  --policy avellaneda-stoikov --policy glft --paths 1 --json > /dev/null
	$(PY) -c 'from flatbook.backtest.backtester import warm_up; warm_up(deep=True)'
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flatbook compare --preset as2008 \
	  --policy symmetric --policy linear-skew --policy avellaneda-stoikov --policy glft \
	  --paths 100000 --seed 0 --out $(DEMO_OUT) --report $(DEMO_OUT)/report.html
	@echo
	@echo "Report written to $(CURDIR)/$(DEMO_OUT)/report.html (with summary.json, parquet files, six-panel PNGs)"

# Headless Chromium for the app's browser tests (tests/test_app_browser.py), from Debian's packages.
# apt-get runs through sudo when not root; if neither works, make stops here with apt-get's error.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { echo "installing chromium and chromium-driver (apt-get)"; \
	    $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

# The suite lists its 15 slowest tests at the end (--durations in pyproject.toml); tests marked
# soak are deselected unless --soak is given.
# Quality gates first (lint and format over src, tests, benchmarks, examples), then the suite, which
# also builds the docs strictly (tests/test_docs.py) and runs every example (tests/test_examples.py).
LINT_PATHS := src tests benchmarks examples
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

# The suite runs on every core (pytest-xdist, -n auto), one test file per worker at a time (--dist loadfile:
# a file's module fixtures, e.g. its Dask cluster, start once): many tests wait on subprocesses, browsers and
# compiles, which two workers overlap. PYTEST_ARGS adds options (-n 0: serial).
PYTEST_XDIST := -n auto --dist loadfile
test: $(STAMP) browser lint
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# One busy-looping process per core beside the suite, stopped at the end whatever happens.
test-busy: $(STAMP) browser
	bash .ci/busy $(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

soak: $(STAMP)
	$(PY) -m pytest --soak -m soak -s tests/live/test_crash_recovery.py

# hftbacktest pins numpy < 2.3: it gets a venv of its own, and the benchmarks run it in child processes
HBT_VENV := .hbtvenv
$(HBT_VENV)/bin/python:
	$(PYTHON) -m venv $(HBT_VENV) && $(HBT_VENV)/bin/pip install --quiet --disable-pip-version-check \
	  'numpy<2.3' 'hftbacktest==2.4.4' || \
	  echo "warning: could not install hftbacktest: bench_backtest.py runs the flatbook half only"

bench: $(STAMP) browser $(HBT_VENV)/bin/python
	@set -e; for f in benchmarks/bench_*.py; do \
	  echo "== $$f"; FLATBOOK_HBT_PYTHON=$(abspath $(HBT_VENV))/bin/python $(PY) $$f $(BENCH_ARGS); \
	done

# The documentation site (mkdocs.yml, docs/): a strict build into site/, failing on any warning
# (a broken link or cross-reference, a module mkdocstrings cannot collect). Offline: open site/index.html
# (the search box needs a server: python3 -m http.server -d site).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) $(HBT_VENV) results site build dist .pytest_cache .hypothesis src/*.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	find . -path ./.git -prune -o -type f \( -name '*.nbi' -o -name '*.nbc' \) -exec rm -f {} +

# Every kernel's cache key includes a SHA-256 of the model-layer sources it inlines
# (flatbook.policies.compile.model_digest), so edits recompile by themselves; old entries
# accumulate (one per edit): this drops them to free disk.
clean-numba:
	find src -type f \( -name '*.nbi' -o -name '*.nbc' \) -exec rm -f {} +
