# Two entry points for a fresh machine with only Python, pip and make:
#   make demo   runs the example sensors on an embedded redis-server
#   make test   runs ruff, mypy and pytest against real redis-servers and processes
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo dev test lint typecheck pytest bench clean

$(BIN)/lookout: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/lookout
	$(BIN)/lookout demo

lint: $(BIN)/lookout
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/lookout
	$(BIN)/mypy

pytest: $(BIN)/lookout
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
