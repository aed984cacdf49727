# The two commands of the README, and the checks CI runs.
PY ?= .venv/bin/python
PORT ?= 8080

.PHONY: run test test-fast lint check setup

setup: .venv/.installed

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet -e '.[dev]'
	touch $@

run: setup
	.venv/bin/syndicator --config config run --listen 127.0.0.1:$(PORT)

# The tests keep the bytecode they compile (__pycache__, ignored by git), even where the
# environment asks Python not to write it (PYTHONDONTWRITEBYTECODE): otherwise each xdist
# worker compiles the package and rewrites the asserts of every test module again at every
# run, 2-3 s of each worker's start, and so does each command an end-to-end test runs.
TEST_ENV = PYTHONDONTWRITEBYTECODE=

test: setup
	$(TEST_ENV) $(PY) -m pytest -n 2 --dist worksteal

# The fast lane: everything but the end-to-end tests (processes: the service, its commands) and
# the slow ones (large inputs), the property tests on a tenth of their examples
# (tests/support/examples.py). `make test` runs all of it, every example.
test-fast: setup
	$(TEST_ENV) SYNDICATOR_TEST_LANE=fast $(PY) -m pytest -n 2 --dist worksteal -m "not e2e and not slow"

lint: setup
	$(PY) -m ruff check syndicator tests bench
	$(PY) -m ruff format --check syndicator tests bench
	$(PY) -m mypy

check: lint test
