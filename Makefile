# debut: the two commands a new user needs are `make demo` and `make test`.
# Both run the set-up step first (idempotent: seconds once done).
PY := .venv/bin/python
ENV ?= local
RUN_DATE ?=
ARGS ?=

.PHONY: setup demo demo-real test test-all lint-imports wheel lock cluster cluster-faults clean-data bench-logs bench-scale bench-deep bench-als bench-optimize

setup:
	@bash conf/setup/setup.sh

## The whole pipeline on the built-in simulated marketplace.
demo: setup
	$(PY) -m debut.cli pipeline --env $(ENV) $(if $(RUN_DATE),--run-date $(RUN_DATE)) $(ARGS)

## The whole pipeline on a real export (../shared/realdata/olist, or $DEBUT_REALDATA/olist): planned on
## 2018-05-01 for the products first sold in the next 30 days, scored on their real first 8 weeks.
demo-real: setup
	$(PY) -m debut.realdemo --fresh $(ARGS)

## The default test suite (CI runs this): the import contracts (.importlinter), then pytest.
## Slow tests: `make test-all`.
test: setup lint-imports
	$(PY) -m pytest -m "not slow" $(ARGS)

test-all: setup lint-imports
	$(PY) -m pytest $(ARGS)

## Stage packages independent, debut.core stage-free, the library never imports the CLI.
lint-imports: setup
	PYTHONPATH=lib$${PYTHONPATH:+:$$PYTHONPATH} .venv/bin/lint-imports

## The wheel spark-submit and Databricks use: dist/debut-<version>-py3-none-any.whl
wheel: setup
	rm -rf build dist && $(PY) -m pip wheel --no-deps --no-build-isolation -q -w dist .

## Regenerate conf/setup/constraints.txt from the current .venv (after changing a pin).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -E '^(debut|horovod|petastorm)[=@ ]' > conf/setup/constraints.txt

## A real standalone Spark cluster on this machine (master + 2 workers), the whole pipeline spark-submitted to it.
cluster: setup
	$(PY) -m debut.cluster demo $(ARGS)

## Fault check on that cluster: a worker killed in the middle of ingest.
cluster-faults: setup
	$(PY) -m debut.cluster faults $(ARGS)

## Benchmarks (on demand; figures in the README). EVENTS=10M for the big runs.
EVENTS ?= 10M
bench-logs: setup
	$(PY) -m debut.scale duckdb --events $(EVENTS) $(ARGS)

bench-scale: setup
	$(PY) -m debut.scale run --events $(EVENTS) $(ARGS)

bench-deep: setup
	$(PY) -m debut.deep.bench $(ARGS)

bench-als: setup
	$(PY) -m debut.recommend.bench $(ARGS)

bench-optimize: setup
	$(PY) -m debut.optimize.bench $(ARGS)

clean-data:
	rm -rf data reports
