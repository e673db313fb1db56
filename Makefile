# ckptdiff developer entry points. `make test` and `make demo` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
CKPTDIFF := $(VENV)/bin/ckptdiff
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install system-deps lint test demo samples readme bench bench-detect bench-hostile clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# System packages the tests use: strace (the no-file/no-network guarantee is checked on system calls) and
# Chromium (the HTML report is rendered by a real headless browser). Missing ones are installed with apt-get.
system-deps:
	@command -v strace >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq strace) || echo "strace not installed: its test will skip"
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "chromium not installed: the browser tests will skip"

# The lint and type gate: ruff (lint and format check) and mypy, configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check ckptdiff tests scripts bench
	$(VENV)/bin/ruff format --check ckptdiff tests scripts bench
	$(VENV)/bin/mypy

test: lint system-deps
	$(PY) -m pytest -q

# The main job on bundled samples: list a file, then check two restores (the first one fails on purpose).
demo: $(STAMP)
	$(CKPTDIFF) inspect sample_checkpoints/keras3/model.weights.h5 --group model
	-$(CKPTDIFF) check sample_checkpoints/scenarios/scope_mistake/model.ckpt --model sample_checkpoints/scenario_models.py:tf1_module
	$(CKPTDIFF) check sample_checkpoints/tf2 --model sample_checkpoints/models.py:build_keras3

samples: $(STAMP)
	$(PY) sample_checkpoints/make_samples.py
	$(PY) sample_checkpoints/make_scenarios.py
	$(PY) sample_checkpoints/make_diff_samples.py
	$(PY) sample_checkpoints/make_fresh_samples.py
	$(PY) sample_checkpoints/make_hostile.py

readme: $(STAMP)
	$(PY) scripts/readme_examples.py

bench: $(STAMP)
	$(PY) bench/speed.py
	$(PY) bench/remote.py

bench-hostile: $(STAMP)
	$(PY) bench/hostile.py

bench-detect: $(STAMP)
	$(PY) bench/detect.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
