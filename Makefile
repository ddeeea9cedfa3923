# Two commands for a fresh Debian machine with Python 3.11:
#   make run    install, then open the dashboard on the London sample data
#   make test   install (including Chromium and poppler for the browser and PDF tests), lint, then run every test
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

system-deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		chromium poppler-utils fonts-dejavu-core >/dev/null

install-test: system-deps install

run: install
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

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
	rm -rf $(VENV) sample_data/results static/vendor .pytest_cache .mypy_cache .ruff_cache
