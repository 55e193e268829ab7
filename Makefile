# The two commands a newcomer needs: `make run` (the local cloud) and `make test` (every test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint schemas bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hcp local up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: $(STAMP)  # unit and integration: no local cloud, minutes not tens of minutes
	$(BIN)/ruff check .
	$(BIN)/pytest -q tests/unit tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

schemas: $(STAMP)
	$(BIN)/hcp schema export

bench: $(STAMP)
	$(BIN)/python bench/normalize.py

clean:
	rm -rf $(VENV) .hcp .pytest_cache
