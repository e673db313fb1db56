# ckptdiff developer entry points. `make test` and `make demo` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test demo samples bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/ckptdiff inspect sample_checkpoints/keras3/model.weights.h5

samples: $(STAMP)
	$(PY) sample_checkpoints/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
