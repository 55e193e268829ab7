# The two commands a newcomer needs: `make run` (the local cloud) and `make test` (every test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint package schemas bench clean browser

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hcp local up $(if $(PORT),--port $(PORT)) $(if $(PROVINCE_PORT),--province-port $(PROVINCE_PORT)) $(if $(AWS_PORT),--aws-port $(AWS_PORT))

# On pytest-xdist workers (TEST_WORKERS=auto: one per core; TEST_WORKERS=0 runs in this process, in order):
# the e2e tests are one scope on one worker, in their order, and every other module is a scope of its own
# that the next free worker takes (tests/conftest.py).
TEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadscope

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_PARALLEL)

test-fast: $(STAMP)  # unit and integration: no local cloud, minutes not tens of minutes
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests/unit tests/integration

# cfn-lint on the SAM source and on the translated template (which is where it finds what AWS refuses),
# for a global region and both China regions (deploy/lint.py).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python deploy/lint.py

# --- The Lambda artifact (deploy/build.py, docs/deploy.md) -------------------------------------------
# `make package` builds what `sam build` builds, with the same targets, without SAM, Docker or python3.12:
# .aws-sam/build/<LogicalId>/ for the dependency layer and each function, and the built template that
# `sam deploy` picks up. `sam build` calls the build-<LogicalId> targets itself (BuildMethod: makefile),
# from a copy of this directory, with ARTIFACTS_DIR set.
FUNCTIONS := AccountFunction RegistryFunction IngestFunction WorkOrdersFunction ForwardFunction SweepFunction \
	SchedulerFunction RatingsQueryFunction AuthorizerFunction ReportingFunction ReportsFunction
BUILD_DIR := .aws-sam/build
BUILD_PY = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PY))

package: $(STAMP)
	rm -rf $(BUILD_DIR)
	$(MAKE) --no-print-directory build-DependenciesLayer ARTIFACTS_DIR=$(CURDIR)/$(BUILD_DIR)/DependenciesLayer
	$(MAKE) --no-print-directory build-ReportsLayer ARTIFACTS_DIR=$(CURDIR)/$(BUILD_DIR)/ReportsLayer
	for f in $(FUNCTIONS); do $(MAKE) --no-print-directory build-$$f ARTIFACTS_DIR=$(CURDIR)/$(BUILD_DIR)/$$f || exit 1; done
	$(BIN)/python deploy/build.py template
	$(BIN)/python deploy/build.py report

# The runtime dependencies, once, in the layer every function uses: wheels for python3.12 on arm64.
build-DependenciesLayer:
	$(BUILD_PY) deploy/build.py deps --out "$(ARTIFACTS_DIR)/python"

# The report renderers' dependencies (vl-convert, XlsxWriter), in a layer of their own for ReportsFunction alone.
build-ReportsLayer:
	$(BUILD_PY) deploy/build.py deps --lock deploy/requirements-reports.txt --out "$(ARTIFACTS_DIR)/python"

# A function's code: the runtime packages only (hub, connectors, infra, functions).
$(addprefix build-,$(FUNCTIONS)):
	$(BUILD_PY) deploy/build.py code --out "$(ARTIFACTS_DIR)"

# Headless Chromium and a CJK font (Debian packages) for the report's browser test; installs only what is missing.
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  command -v apt-get >/dev/null || { echo "make browser: no apt-get; install chromium and a CJK font"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-noto-cjk >/dev/null; }

schemas: $(STAMP)
	$(BIN)/hcp schema export

bench: $(STAMP)
	$(BIN)/python bench/normalize.py

clean:
	rm -rf $(VENV) .hcp .pytest_cache .aws-sam .mypy_cache
