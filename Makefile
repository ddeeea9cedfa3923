# Two commands for a fresh Debian machine with Python 3.11:
#   make run    install, then serve the dashboard (`firerisk app`) on the London sample data
#   make test   install (including Chromium, poppler and QGIS for the browser, PDF and QGIS
#               tests), lint, then run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test install install-test system-deps lint bench bench-quick build-sample clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv || true
	( $(VENV)/bin/uv pip install --quiet -p $(PY) -e '.[test]' ) || $(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# chromium: the browser tests (Playwright drives /usr/bin/chromium); poppler-utils: PDF to
# text and PNG; qgis + python3-qgis (for Debian's /usr/bin/python3): the results open styled
# in QGIS (tests/test_qgis.py).
system-deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		chromium poppler-utils fonts-dejavu-core qgis python3-qgis >/dev/null

install-test: system-deps install

# Caches (Leaflet, map files, the built sample) go to the per-user cache folder; add
# ARGS="--results R.gpkg" or ARGS="--cache-dir D" to choose.
run: install
	$(VENV)/bin/firerisk app --port $(PORT) $(ARGS)

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install-test
	$(PY) -m bench.run

bench-quick: install-test
	$(PY) -m bench.run --quick

build-sample: install
	$(VENV)/bin/firerisk build --config sample_data/london.toml --out sample_data/results/london.gpkg

clean:
	rm -rf $(VENV) sample_data/results static/vendor static/cache .pytest_cache .mypy_cache .ruff_cache
