# Two entry points for a fresh Linux machine with Python 3.11: `make demo` and `make test`.
# Both create the virtual environment in .venv once (idempotent) and reuse it afterwards.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.si_amortized_installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# a CPU build of torch first, so nothing pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	# NEURON template simulation is optional; its tests skip when this fails
	$(BIN)/python -m pip install -q -e ".[simulation]" || echo "NEURON extra not installable here: simulation tests will be skipped"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/si-amortized demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra

clean:
	rm -rf $(VENV)
