# debut: the two commands a new user needs are `make demo` and `make test`.
# Both run the set-up step first (idempotent: seconds once done).
PY := .venv/bin/python
ENV ?= local
RUN_DATE ?=
ARGS ?=

.PHONY: setup demo test test-all wheel lock cluster clean-data bench-ingest

setup:
	@bash conf/setup/setup.sh

## The whole pipeline on the built-in simulated marketplace.
demo: setup
	$(PY) -m debut.cli pipeline --env $(ENV) $(if $(RUN_DATE),--run-date $(RUN_DATE)) $(ARGS)

## The default test suite (CI runs this). Slow tests: `make test-all`.
test: setup
	$(PY) -m pytest -m "not slow" $(ARGS)

test-all: setup
	$(PY) -m pytest $(ARGS)

## The wheel spark-submit and Databricks use: dist/debut-<version>-py3-none-any.whl
wheel: setup
	rm -rf build dist && $(PY) -m pip wheel --no-deps --no-build-isolation -q -w dist .

## Regenerate conf/setup/constraints.txt from the current .venv (after changing a pin).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -E '^(debut|horovod|petastorm)[=@ ]' > conf/setup/constraints.txt

clean-data:
	rm -rf data reports
