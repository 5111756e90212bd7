# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install, open crmnotes on a demo vault
#   make test   - create .venv, install, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := .demo-vault

.PHONY: demo test test-lowest check lint fix clean bench faults

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q crmnotes  # an editable install is not compiled; with PYTHONDONTWRITEBYTECODE set nothing ever would be
	touch $(STAMP)

demo: $(STAMP)
	test -f $(DEMO)/crmnotes.yaml || $(BIN)/crm init $(DEMO) --example
	@echo "--- crm ls (demo vault in $(DEMO)) ---"
	@$(BIN)/crm --vault $(DEMO) ls
	@echo "--- crm due ---"
	@$(BIN)/crm --vault $(DEMO) due
	@echo "Try: $(BIN)/crm --vault $(DEMO) show 星辰科技"
	@echo "--- opening the terminal UI (q quits, ? lists the keys) ---"
	$(BIN)/crm --vault $(DEMO) tui

test: $(STAMP)
	$(BIN)/python -m pytest -n auto -q

# The declared lower bounds are true: a fresh venv of its own with every direct dependency of
# pyproject.toml (runtime and dev) at its lower bound (what `uv pip install --resolution
# lowest-direct` does), then lint and the whole test suite there.
LOWEST := .venv-lowest
test-lowest:
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(PYTHON) .ci/lowest_constraints.py pyproject.toml > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install --quiet -c $(LOWEST)/constraints.txt -e '.[dev]'
	$(LOWEST)/bin/python -m pip check
	$(LOWEST)/bin/ruff check crmnotes tests benchmarks
	$(LOWEST)/bin/python -m pytest -n auto -q -p no:cacheprovider

# Performance figures at 1,000 and 10,000 customers (needs ripgrep for the baseline ratios:
# apt-get install -y ripgrep).  BENCH_ARGS=--quick for a smoke run, --large adds 50,000.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The long fault, concurrency and hostile-input run (issue 8): prints faults injected,
# inputs tried and entries lost (must be 0).  FAULTS_ARGS=--scale 0.2 for a shorter run.
faults: $(STAMP)
	$(BIN)/python tests/long/faults.py $(FAULTS_ARGS)

# The code keeps a compact layout (120 columns, hand-wrapped); ruff's linter
# is the gate, the formatter is not applied.  Then mypy type-checks crmnotes/
# ([tool.mypy] in pyproject.toml); `make test` does not wait for it, CI runs both.
lint: $(STAMP)
	$(BIN)/ruff check crmnotes tests benchmarks
	$(BIN)/mypy

fix: $(STAMP)
	$(BIN)/ruff check --fix crmnotes tests benchmarks

check: lint test

clean:
	rm -rf $(VENV) $(LOWEST) $(DEMO) .pytest_cache .ruff_cache .mypy_cache
