# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv when missing and installs what it needs: torch==2.13.0 (the CPU build)
# first when no NVIDIA GPU is present, then this project in editable mode with its dev extras.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sharpsplat-installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
		echo "NVIDIA GPU found: installing the registry's torch"; \
	else \
		echo "No NVIDIA GPU: installing the CPU build torch==2.13.0 first"; \
		$(PY) -m pip install -q torch==2.13.0; \
	fi
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sharpsplat demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)
