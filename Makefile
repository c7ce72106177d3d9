# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= leanloop-demo

.PHONY: demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	rm -rf $(DEMO_DIR)
	$(BIN)/leanloop demo --dir $(DEMO_DIR)

# One OpenMP thread per process: the suite trains many tiny gradient-boosting models and
# runs servers beside pytest, where OpenMP's thread pools only fight over the two cores.
# The linter and the type checker first: a finding fails `make test`, as a test would.
# Two pytest workers (pytest-xdist): most of the suite's wall time is servers, subprocesses
# and PostgreSQL waiting on each other, so two workers on two cores roughly halve it.
# Each worker starts its own PostgreSQL and Dask cluster; ports are picked free at run time.
# --dist loadfile: each test file (tests/report: the folder) is one unit of work, the longest
# queued first (tests/conftest.py), so no file's fixtures are made twice and no long file
# starts last.
test: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# Benchmarks against the peers (see README, Benchmarks): SUITE=drift|cbpe|serve|feedback|cycle|scenarios|batch|window|scale,
# SIZE=10M (drift rows per side), QUICK=1 (small everything). Not part of `make test`.
bench: $(BIN)/.installed
	$(BIN)/python -m bench $(if $(SUITE),--suite $(SUITE)) $(if $(SIZE),--size $(SIZE)) $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis bench/.venvs bench/data bench/results
