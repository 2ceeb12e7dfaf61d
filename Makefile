# Two commands for a fresh clone: `make demo` (set up, then run the main job on a synthetic
# twin) and `make test` (set up if needed, then run the tests).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COMP ?= rossmann
SIZE ?= small

.PHONY: setup demo test clean
setup: $(VENV)/.installed

# torch first: on a machine without a GPU take the CPU build (torch==2.13.0 is a CPU wheel
# on our machines); the project's own `torch>=2.2` is then satisfied and pip pulls no CUDA.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "GPU found: installing the default (CUDA) torch build"; \
		$(BIN)/python -m pip install -q "torch>=2.2"; \
	else \
		echo "no GPU: installing the CPU torch build"; \
		$(BIN)/python -m pip install -q torch==2.13.0 || \
		$(BIN)/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu; \
	fi
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# the main job on a twin: data -> adversarial check -> models -> blend -> checked submission -> score
demo: setup
	$(BIN)/kit run $(COMP) --size $(SIZE)

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
